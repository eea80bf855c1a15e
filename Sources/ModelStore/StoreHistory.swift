import Foundation

/// What `STORE/history` says, replayed line by line: the flips of `current`, the order versions were published in,
/// and which versions are held (rolled back, so that a plain publish refuses them).
///
/// The file is append-only text, one line per event, fields separated by tabs:
///
///     <version> TAB <time> TAB <action> [TAB <previous>]   a flip of `current` to <version>
///     TAB <time> TAB unhold <version>                      an operator released a held version (no flip)
///
/// <action> is `publish <dir>`, `publish --force <dir>`, `rollback` or `rollback --to`; <previous> is the version
/// that was current before the flip (empty: none). Publishers before holds existed wrote the first three fields
/// only; for their lines the previous version is the one the line before flipped to, so an old store replays as if
/// this code had written it. Readers that take only the first field (older publishers) skip the unhold lines, whose
/// first field is empty, and ignore the fourth field.
///
/// Holds: a rollback holds the version it leaves, unless it goes forward (to a version published after that one);
/// any flip to a version releases it (`rollback --to`, `publish --force`), and so does an unhold line.
public struct StoreHistory: Sendable, Equatable {
    /// One flip of `current`.
    public struct Flip: Sendable, Equatable {
        public let version: String
        /// ISO 8601, as written (UTC, seconds).
        public let time: String
        public let action: String
        /// The version current before this flip, when known.
        public let previous: String?

        public var isRollback: Bool { action == "rollback" || action.hasPrefix("rollback ") }
        public var isPublish: Bool { action.hasPrefix("publish ") }
        /// The directory a publish line names.
        public var source: String? {
            guard isPublish else { return nil }
            let rest = action.dropFirst("publish ".count)
            return String(rest.hasPrefix("--force ") ? rest.dropFirst("--force ".count) : rest)
        }
    }

    /// A version that was rolled back and not made current or released since.
    public struct Hold: Sendable, Equatable {
        public let version: String
        /// When it was rolled back.
        public let since: String
        /// What the rollback made current instead.
        public let rolledBackTo: String
    }

    /// Every flip, oldest first.
    public private(set) var flips: [Flip] = []
    /// Published versions, oldest first, each at its latest publish.
    public private(set) var publishOrder: [String] = []
    /// The latest publish of each version.
    public private(set) var lastPublish: [String: Flip] = [:]
    /// When each version was last rolled back (held or released since).
    public private(set) var lastRolledBack: [String: String] = [:]
    /// Held versions, in the order they were rolled back.
    public private(set) var holds: [Hold] = []
    public private(set) var lastRollback: Flip?

    public init(text: String) {
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard let first = fields.first else { continue }
            if ModelStore.isVersionName(first) {
                let previous: String?
                if fields.count >= 4 {
                    previous = ModelStore.isVersionName(fields[3]) ? fields[3] : nil
                } else {
                    previous = flips.last?.version
                }
                apply(Flip(version: first, time: fields.count > 1 ? fields[1] : "", action: fields.count > 2 ? fields[2] : "",
                           previous: previous))
            } else if first.isEmpty, fields.count >= 3, fields[2].hasPrefix("unhold ") {
                let version = String(fields[2].dropFirst("unhold ".count))
                holds.removeAll { $0.version == version }
            }
            // Anything else (lines older publishers wrote for ids that are no version, such as "..") is ignored.
        }
    }

    private mutating func apply(_ flip: Flip) {
        if flip.isRollback, let from = flip.previous, from != flip.version {
            let forward = publishOrder.firstIndex(of: flip.version).map { target in
                publishOrder.firstIndex(of: from).map { target > $0 } ?? false
            } ?? false
            if !forward {
                holds.removeAll { $0.version == from }
                holds.append(Hold(version: from, since: flip.time, rolledBackTo: flip.version))
                lastRolledBack[from] = flip.time
            }
            lastRollback = flip
        }
        if flip.isPublish {
            publishOrder.removeAll { $0 == flip.version }
            publishOrder.append(flip.version)
            lastPublish[flip.version] = flip
        }
        holds.removeAll { $0.version == flip.version }
        flips.append(flip)
    }

    public func hold(of version: String) -> Hold? { holds.first { $0.version == version } }

    /// The latest flip to `version`.
    public func lastFlip(to version: String) -> Flip? { flips.last { $0.version == version } }

    /// A flip line: `version`, now, `action`, the previous version; tabs and line breaks in `action` (a path) become
    /// spaces, so one event is always one line.
    static func flipLine(version: String, action: String, previous: String?) -> String {
        "\(version)\t\(now())\t\(oneLine(action))\t\(previous ?? "")\n"
    }

    /// An unhold line (no flip: its first field is empty).
    static func unholdLine(version: String) -> String { "\t\(now())\tunhold \(version)\n" }

    static func now() -> String { ISO8601DateFormatter().string(from: Date()) }

    static func oneLine(_ text: String) -> String {
        String(text.map { $0 == "\t" || $0.isNewline ? " " : $0 })
    }
}

/// One version of a store, as `rerank-admin store list` shows it.
public struct VersionInfo: Sendable, Equatable {
    public let version: String
    /// Bytes of its files.
    public let bytes: Int
    public let files: Int
    /// Its latest publish, when the history records it.
    public let publishedAt: String?
    public let publishedFrom: String?
    /// When it was last rolled back, if ever.
    public let rolledBackAt: String?
    public let isCurrent: Bool
    public let hold: StoreHistory.Hold?
}

/// Where a store stands, as `rerank-admin store status` shows it.
public struct StoreStatus: Sendable {
    public let store: String
    public let current: String?
    /// Why `current` cannot be read (a broken link), if so.
    public let currentProblem: String?
    /// The flip that made `current` what it is, when the history's last flip is to it.
    public let currentSince: StoreHistory.Flip?
    /// True when `current` is not what the history's last flip made it (changed by hand).
    public let currentChangedOutsideHistory: Bool
    public let lastRollback: StoreHistory.Flip?
    /// Held versions and whether each is still in `versions/` (a held version that was pruned stays held).
    public let held: [(hold: StoreHistory.Hold, inStore: Bool)]
    public let versions: Int
}
