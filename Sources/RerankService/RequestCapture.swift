import Dispatch
import Foundation
import Logging
import Metrics
import Synchronization

/// Samples served requests into JSON lines in the teacher's input format (`{"qid", "query", "documents",
/// "captured_at"}`), so retraining can use the queries and candidates real traffic brings. Opt-in: it holds
/// users' text. Writing happens on its own queue: a request only pays for a coin flip and, when sampled, an
/// enqueue; a full queue, a full disk or a slow volume drops the line (counted), never the request.
/// Files rotate at `maxFileBytes`; the oldest are deleted beyond `maxTotalBytes`. File names carry the host name,
/// so replicas sharing one directory (a Kubernetes volume) never write or prune each other's files: the size
/// budget is per host.
public final class RequestCapture: Sendable {
    public struct Settings: Sendable {
        public var directory: URL
        /// Fraction of requests captured, in [0, 1].
        public var rate: Double
        public var maxFileBytes = 64 << 20
        public var maxTotalBytes = 1 << 30
        /// Lines waiting for the writer; more are dropped.
        public var maxPending = 1000

        public init(directory: URL, rate: Double) {
            self.directory = directory
            self.rate = rate
        }
    }

    public let settings: Settings
    private let logger: Logger
    private let queue = DispatchQueue(label: "rerank.capture", qos: .utility)
    private let pending = Atomic(0)
    private let state = Mutex<(file: FileHandle?, path: String, bytes: Int, lastErrorLog: Date)>((nil, "", 0, .distantPast))
    private let written = Counter(label: "rerank_capture_lines_total")
    private let droppedFull = Counter(label: "rerank_capture_dropped_total", dimensions: [("reason", "queue_full")])
    private let droppedError = Counter(label: "rerank_capture_dropped_total", dimensions: [("reason", "write_error")])
    /// "-<host>-" in this server's file names: in a container every replica's pid is 1, the host name differs.
    private let hostTag = "-" + String(ProcessInfo.processInfo.hostName.map {
        $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") ? $0 : "_" }) + "-"

    /// Creates the directory; throws if it cannot be created (a typo should fail at start, not silently).
    public init(settings: Settings, logger: Logger) throws {
        precondition((0...1).contains(settings.rate))
        try FileManager.default.createDirectory(at: settings.directory, withIntermediateDirectories: true)
        self.settings = settings
        self.logger = logger
    }

    /// Called on the request path; returns at once.
    public func offer(query: String, documents: [String]) {
        guard settings.rate > 0, Double.random(in: 0..<1) < settings.rate else { return }
        if pending.add(1, ordering: .relaxed).newValue > settings.maxPending {
            pending.subtract(1, ordering: .relaxed)
            droppedFull.increment()
            return
        }
        let capturedAt = Date()
        queue.async { [self] in
            defer { pending.subtract(1, ordering: .relaxed) }
            let object: [String: Any] = ["qid": UUID().uuidString.lowercased(), "query": query, "documents": documents,
                                         "captured_at": ISO8601DateFormatter().string(from: capturedAt)]
            guard var line = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
            line.append(0x0A)
            write(line)
        }
    }

    /// Waits until every accepted line is written (for tests and shutdown).
    public func flush() { queue.sync {} }

    private func write(_ line: Data) {
        state.withLock { state in
            do {
                if state.file == nil || state.bytes + line.count > settings.maxFileBytes {
                    try state.file?.close()
                    let name = "capture-\(Self.stamp())\(hostTag)\(getpid()).jsonl"
                    let path = settings.directory.appendingPathComponent(name).path
                    guard FileManager.default.createFile(atPath: path, contents: nil),
                          let handle = FileHandle(forWritingAtPath: path) else {
                        throw CocoaError(.fileWriteNoPermission)
                    }
                    state = (handle, path, 0, state.lastErrorLog)
                    pruneOldFiles(keeping: path)
                }
                try state.file!.write(contentsOf: line)
                state.bytes += line.count
                written.increment()
            } catch {
                state.file = nil
                droppedError.increment()
                if Date().timeIntervalSince(state.lastErrorLog) > 60 {
                    state.lastErrorLog = Date()
                    logger.error("request capture: a line was dropped", metadata: [
                        "directory": "\(settings.directory.path)", "error": "\(error.localizedDescription)"])
                }
            }
        }
    }

    /// Deletes this host's oldest capture files while they hold more than `maxTotalBytes`.
    private func pruneOldFiles(keeping current: String) {
        let directory = settings.directory
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return }
        var files = names.filter { $0.hasPrefix("capture-") && $0.hasSuffix(".jsonl") && $0.contains(hostTag) }.sorted().map {
            (path: directory.appendingPathComponent($0).path,
             size: (try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent($0).path)[.size] as? Int) ?? 0)
        }
        var total = files.reduce(0) { $0 + $1.size } + settings.maxFileBytes
        while total > settings.maxTotalBytes, let oldest = files.first, oldest.path != current {
            try? FileManager.default.removeItem(atPath: oldest.path)
            total -= oldest.size
            files.removeFirst()
        }
    }

    /// UTC time to the microsecond: capture files sort by creation.
    private static func stamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d%02d%02dT%02d%02d%02d.%06dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, now.tv_nsec / 1000)
    }
}
