import Crypto
import Foundation

/// A directory of immutable model versions and a `current` symlink that says which one serves:
///
///     STORE/versions/<sha256 prefix of the files>/   one checkpoint directory per version, never modified
///     STORE/current -> versions/<id>                 flipped atomically (a new symlink renamed over it)
///     STORE/history                                  one line per flip (id, time, what flipped it, the version
///                                                    before) and per released hold: see `StoreHistory`
///     STORE/.lock                                    held while publishing, rolling back or releasing a hold
///
/// Servers that share the store (a Kubernetes volume, NFS) watch `current` and hot-swap when it changes.
///
/// A rollback holds the version it leaves: a plain publish of a held version is refused (`ModelStoreError.held`), so
/// rerunning the pipeline that published it does not undo the rollback; `publish --force`, `rollback --to` and
/// `unhold` release it. A plain rollback goes to the version published before the current one, skipping held ones.
///
/// A version holds regular files only, copied by content (a Hugging Face hub snapshot's symlinks into
/// `../../blobs` are resolved), and only the files of a checkpoint (`checkpointFileRule`): nothing in it depends on
/// anything outside the store, and nothing else (a stray 2 GB file, optimiser state) is copied.
public struct ModelStore: Sendable {
    public let root: URL

    public init(root: URL) {
        self.root = root.standardizedFileURL
    }

    public var versionsDirectory: URL { root.appendingPathComponent("versions", isDirectory: true) }
    public var currentLink: URL { root.appendingPathComponent("current") }
    var historyFile: URL { root.appendingPathComponent("history") }

    /// The version `current` names, or nil when nothing was published yet. Throws when `current` is not a
    /// link to `versions/<id>` (never load the store root or a path outside it).
    public func currentVersion() throws -> String? {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: currentLink.path) else {
            if FileManager.default.fileExists(atPath: currentLink.path) {
                throw ModelStoreError.corrupt(root.path, "current exists but is not a symbolic link")
            }
            return nil
        }
        let parts = target.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] == "versions", Self.isVersionName(String(parts[1])) else {
            throw ModelStoreError.corrupt(
                root.path, "\(currentLink.path) points to \"\(target)\", not to versions/<id>: "
                    + "make it current again with `rerank-admin rollback --store \(root.path) --to VERSION`")
        }
        return String(parts[1])
    }

    public func directory(of version: String) -> URL { versionsDirectory.appendingPathComponent(version, isDirectory: true) }

    /// The directory `current` points to.
    public func currentDirectory() throws -> URL {
        guard let version = try currentVersion() else { throw ModelStoreError.empty(root.path) }
        return directory(of: version)
    }

    /// The history file replayed (empty when there is none).
    public func readHistory() -> StoreHistory {
        StoreHistory(text: (try? String(contentsOf: historyFile, encoding: .utf8)) ?? "")
    }

    /// Versions in the order they were made current (oldest first), each once, at its latest position.
    /// Lines that name no possible version (left by older publishers) are ignored.
    public func history() -> [String] {
        var order: [String] = []
        for flip in readHistory().flips {
            order.removeAll { $0 == flip.version }
            order.append(flip.version)
        }
        return order
    }

    /// The versions in the store, newest first (by their latest publish; versions the history does not record as
    /// published last, by name).
    public func versions() -> [String] { versions(readHistory()) }

    private func versions(_ log: StoreHistory) -> [String] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: versionsDirectory.path)) ?? [])
            .filter(isVersion)
        let ordered = log.publishOrder.reversed().filter(names.contains)
        return ordered + names.filter { !ordered.contains($0) }.sorted()
    }

    /// Throws unless the store's directory exists (reading a store never creates one).
    private func requireStore() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ModelStoreError.noStore(root.path)
        }
    }

    /// The versions in `versions/`, newest published first, with sizes, times and holds.
    public func list() throws -> (current: String?, versions: [VersionInfo]) {
        try requireStore()
        let log = readHistory()
        let current = try? currentVersion()
        let infos = versions(log).map { version -> VersionInfo in
            var bytes = 0, files = 0
            let folder = directory(of: version)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] {
                var info = stat()
                guard lstat(folder.appendingPathComponent(name).path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
                bytes += Int(info.st_size)
                files += 1
            }
            let published = log.lastPublish[version]
            return VersionInfo(version: version, bytes: bytes, files: files, publishedAt: published?.time,
                               publishedFrom: published?.source, rolledBackAt: log.lastRolledBack[version],
                               isCurrent: version == current, hold: log.hold(of: version))
        }
        return (current, infos)
    }

    /// The current version and the flip that made it current, the last rollback and the held versions.
    public func status() throws -> StoreStatus {
        try requireStore()
        let log = readHistory()
        var current: String?
        var problem: String?
        do { current = try currentVersion() } catch { problem = "\(error)" }
        let last = log.flips.last
        let since = current.flatMap { current in last?.version == current ? last : nil }
        return StoreStatus(store: root.path, current: current, currentProblem: problem, currentSince: since,
                           currentChangedOutsideHistory: current != nil && since == nil,
                           lastRollback: log.lastRollback, held: log.holds.map { ($0, isVersion($0.version)) },
                           versions: versions(log).count)
    }

    /// Releases a held version, so that a plain publish takes it again; nil when it was not held (nothing is written).
    /// Throws for an id that is neither held nor a version of the store.
    @discardableResult
    public func unhold(_ version: String) throws -> StoreHistory.Hold? {
        try requireStore()
        return try withLock {
            let log = readHistory()
            guard let hold = log.hold(of: version) else {
                guard isVersion(version) else {
                    throw ModelStoreError.unknownVersion(version, store: root.path, available: versions(log))
                }
                return nil
            }
            if let reason = appendAtomically(StoreHistory.unholdLine(version: version), to: historyFile.path) {
                throw ModelStoreError.io(historyFile.path, "\(reason): \(version) is still held")
            }
            return hold
        }
    }

    /// True when `name` is a version of this store: a directory (not a link) directly in `versions/`, not hidden.
    public func isVersion(_ name: String) -> Bool {
        guard Self.isVersionName(name) else { return false }
        var info = stat()
        return lstat(directory(of: name).path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// A name that can be a version: one path component, not hidden ("", ".", "..", "a/b" and ".x" are not).
    static func isVersionName(_ name: String) -> Bool {
        !name.isEmpty && !name.hasPrefix(".") && !name.contains("/") && !name.contains("\0") && name.utf8.count <= 255
    }

    /// What a publish did.
    public struct PublishResult: Sendable, Equatable {
        public let version: String
        /// The version was current already: nothing was copied, checked, flipped or written.
        public let wasCurrent: Bool
        /// The hold `force` overrode.
        public let releasedHold: StoreHistory.Hold?
    }

    /// Copies the checkpoint files of `source` (see `checkpointFileRule`) in as an immutable version (its id: the
    /// first 16 hex digits of the SHA-256 of those files), lets `validate` load it, flips `current` to it and keeps
    /// the `keep` most recent versions. A version that fails validation is never made current and leaves nothing
    /// behind; neither does any other failure (a full volume included). `warn` hears about files not copied and
    /// about leftovers of an interrupted publish removed on the way.
    ///
    /// The version that is current already is left as it is (`wasCurrent`). A held version (rolled back) is refused
    /// with `ModelStoreError.held` before anything is copied, unless `force`.
    @discardableResult
    public func publish(_ source: URL, keep: Int, force: Bool = false, warn: (String) -> Void = { _ in },
                        validate: (URL) throws -> Void) throws -> PublishResult {
        try withLock {
            try FileManager.default.createDirectory(at: versionsDirectory, withIntermediateDirectories: true)
            removeLeftovers(warn: warn)
            let source = source.standardizedFileURL
            let files = try Self.checkpointFiles(in: source)
            for line in files.skipped { warn(line) }
            let id = try Self.contentID(of: source, names: files.names)
            let destination = directory(of: id)
            let isNew = !isVersion(id)
            let current = try? currentVersion()
            if current == id, !isNew { return PublishResult(version: id, wasCurrent: true, releasedHold: nil) }
            let hold = readHistory().hold(of: id)
            if let hold, !force {
                throw ModelStoreError.held(version: id, store: root.path, source: source.path, since: hold.since,
                                           rolledBackTo: hold.rolledBackTo)
            }
            if isNew {
                let incoming = versionsDirectory.appendingPathComponent(".incoming-\(getpid())", isDirectory: true)
                do {
                    try copy(files.names, from: source, to: incoming, expecting: id)
                    try check(incoming, of: source, with: validate)
                    guard rename(incoming.path, destination.path) == 0 else {
                        throw ModelStoreError.io(destination.path, Self.errnoText())
                    }
                    syncDirectory(versionsDirectory)
                } catch {
                    try? FileManager.default.removeItem(at: incoming)
                    throw error
                }
            } else {
                try check(destination, of: source, with: validate)
            }
            let action = force ? "publish --force \(source.path)" : "publish \(source.path)"
            do { try flip(to: id, action: action, previous: current, warn: warn) } catch {
                if isNew { try? FileManager.default.removeItem(at: destination) }
                throw error
            }
            prune(keep: keep)
            return PublishResult(version: id, wasCurrent: false, releasedHold: hold)
        }
    }

    /// What a rollback did.
    public struct RollbackResult: Sendable, Equatable {
        public let version: String
        /// The version current before (nil when there was none or it could not be read).
        public let from: String?
        /// The version this rollback holds (`from`, unless the rollback went forward).
        public let held: String?
        /// `--to` named the current version: nothing was flipped or written.
        public let wasCurrent: Bool
        /// The hold on `version` that `--to` released.
        public let releasedHold: StoreHistory.Hold?
    }

    /// Flips `current` to `version` (an existing version id: see `isVersion`; a hold on it is released), or, without
    /// one, to the newest version published before the current one that is not held. The version left is held
    /// (unless `version` was published after it).
    @discardableResult
    public func rollback(to version: String? = nil, warn: (String) -> Void = { _ in }) throws -> RollbackResult {
        try requireStore()
        return try withLock {
            removeLeftovers(warn: warn)
            let current = try? currentVersion()
            let log = readHistory()
            let target: String
            if let version {
                guard isVersion(version) else {
                    throw ModelStoreError.unknownVersion(version, store: root.path, available: versions(log))
                }
                if version == current, log.hold(of: version) == nil {
                    return RollbackResult(version: version, from: current, held: nil, wasCurrent: true, releasedHold: nil)
                }
                target = version
            } else {
                let order = log.publishOrder
                let earlier = current.flatMap { order.lastIndex(of: $0) }.map { Array(order[..<$0]) }
                    ?? order.filter { $0 != current }
                guard let previous = earlier.reversed().first(where: { log.hold(of: $0) == nil && isVersion($0) }) else {
                    throw ModelStoreError.nothingToRollBackTo(
                        root.path, current: current,
                        held: earlier.reversed().filter { log.hold(of: $0) != nil && isVersion($0) })
                }
                target = previous
            }
            try flip(to: target, action: version == nil ? "rollback" : "rollback --to", previous: current, warn: warn)
            let held = current.flatMap { readHistory().hold(of: $0)?.rolledBackTo == target ? $0 : nil }
            return RollbackResult(version: target, from: current, held: held, wasCurrent: false,
                                  releasedHold: log.hold(of: target))
        }
    }

    /// Runs `validate` on `directory`; its error names the source's files rather than the store's copies of them.
    private func check(_ directory: URL, of source: URL, with validate: (URL) throws -> Void) throws {
        do { try validate(directory) } catch {
            let reason = "\(error)".replacingOccurrences(of: directory.path, with: source.path)
            throw ModelStoreError.rejected(source: source.path, reason: reason)
        }
    }

    private func flip(to id: String, action: String, previous: String?, warn: (String) -> Void) throws {
        let temporary = root.appendingPathComponent(".current-\(getpid())")
        unlink(temporary.path)
        guard symlink("versions/\(id)", temporary.path) == 0 else {
            throw ModelStoreError.io(temporary.path, Self.errnoText())
        }
        guard rename(temporary.path, currentLink.path) == 0 else {
            let reason = Self.errnoText()
            unlink(temporary.path)
            throw ModelStoreError.io(currentLink.path, reason)
        }
        syncDirectory(root)
        // `current` has flipped: a history that cannot be written is reported, not a failed flip.
        let line = StoreHistory.flipLine(version: id, action: action, previous: previous)
        if let reason = appendAtomically(line, to: historyFile.path) {
            warn("\(historyFile.path): \(reason): the flip to versions/\(id) is not recorded there, so `rollback` "
                 + "without --to, holds and `store status` will not know it")
        }
    }

    /// Appends `line` whole or not at all (a partial line on a full volume is cut off again); nil when written.
    private func appendAtomically(_ line: String, to path: String) -> String? {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return Self.errnoText() }
        defer { close(fd) }
        var info = stat()
        let before = fstat(fd, &info) == 0 ? info.st_size : -1
        let bytes = Array(line.utf8)
        let failure = bytes.withUnsafeBytes { Self.writeAll(fd, $0.baseAddress!, $0.count) }
            ?? (fsync(fd) == 0 ? nil : Self.errnoText())
        if failure != nil, before >= 0 { _ = ftruncate(fd, before) }
        return failure
    }

    /// Removes what an interrupted publish or flip left behind (`versions/.incoming-*`, `.current-*`). Called
    /// under the lock, when no publish can be running.
    private func removeLeftovers(warn: (String) -> Void) {
        let fileManager = FileManager.default
        for (directory, prefix) in [(versionsDirectory, ".incoming-"), (root, ".current-")] {
            guard let names = try? fileManager.contentsOfDirectory(atPath: directory.path) else { continue }
            for name in names.sorted() where name.hasPrefix(prefix) {
                let path = directory.appendingPathComponent(name).path
                do {
                    try fileManager.removeItem(atPath: path)
                    if prefix == ".incoming-" { warn("removed \(path), left by a publish that did not finish") }
                } catch {
                    warn("\(path) is left by a publish that did not finish and cannot be removed: \(error.localizedDescription)")
                }
            }
        }
    }

    /// Copies `names` from `source` into a new directory `incoming` (regular files, by content, synced), checking
    /// first that the volume has room, and that the bytes copied are the ones `id` was computed from.
    private func copy(_ names: [String], from source: URL, to incoming: URL, expecting id: String) throws {
        var needed = 0
        for name in names { needed += try Self.regularFileSize(source.appendingPathComponent(name).path) }
        var volume = statvfs()
        if statvfs(versionsDirectory.path, &volume) == 0 {
            let free = Int(volume.f_bavail) * Int(volume.f_frsize)
            guard needed + (1 << 20) <= free else {
                throw ModelStoreError.noSpace(store: versionsDirectory.path, source: source.path, needed: needed, free: free)
            }
        }
        try? FileManager.default.removeItem(at: incoming)
        guard mkdir(incoming.path, 0o755) == 0 else { throw ModelStoreError.io(incoming.path, Self.errnoText()) }
        var hash = SHA256()
        for name in names {
            let target = incoming.appendingPathComponent(name).path
            let out = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard out >= 0 else { throw ModelStoreError.io(target, Self.errnoText()) }
            defer { close(out) }
            try Self.stream(source.appendingPathComponent(name).path, name: name, into: &hash) { bytes, count in
                if let reason = Self.writeAll(out, bytes, count) {
                    throw ModelStoreError.copyFailed(source: source.appendingPathComponent(name).path,
                                                     destination: target, reason: reason)
                }
            }
            guard fsync(out) == 0 else {
                throw ModelStoreError.copyFailed(source: source.appendingPathComponent(name).path, destination: target,
                                                 reason: Self.errnoText())
            }
        }
        syncDirectory(incoming)
        guard Self.hexPrefix(hash) == id else {
            throw ModelStoreError.io(source.path, "its files changed while being published: publish it again once they are written")
        }
    }

    private func prune(keep: Int) {
        let current = try? currentVersion()
        let kept = Set(history().suffix(max(keep, 1))).union([current].compactMap { $0 })
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: versionsDirectory.path) else { return }
        for name in names where !name.hasPrefix(".") && !kept.contains(name) {
            try? FileManager.default.removeItem(at: directory(of: name))
        }
    }

    private func withLock<T>(_ body: () throws -> T) throws -> T {
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let fd = open(root.appendingPathComponent(".lock").path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ModelStoreError.io(root.appendingPathComponent(".lock").path, Self.errnoText()) }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { throw ModelStoreError.io(root.appendingPathComponent(".lock").path, Self.errnoText()) }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    private func syncDirectory(_ url: URL) {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
    }
}
