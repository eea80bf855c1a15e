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
/// budget is per host. A directory that cannot be used (a read-only volume, a path under a file, no permission) stops
/// nothing: capture is off, `status` says why, lines sampled meanwhile are dropped (counted), and the directory is
/// tried again every `retryInterval` seconds until it works.
public final class RequestCapture: Sendable {
    public struct Settings: Sendable {
        public var directory: URL
        /// Fraction of requests captured, in [0, 1].
        public var rate: Double
        public var maxFileBytes = 64 << 20
        public var maxTotalBytes = 1 << 30
        /// Lines waiting for the writer; more are dropped.
        public var maxPending = 1000
        /// Seconds between attempts to create or use a directory that could not be used.
        public var retryInterval: Double = 30

        public init(directory: URL, rate: Double) {
            self.directory = directory
            self.rate = rate
        }
    }

    /// Whether lines are being written, and if not, why.
    public struct Status: Sendable, Equatable {
        public var directory: String
        public var rate: Double
        /// False while the directory cannot be used; sampled lines are then dropped.
        public var active: Bool
        /// Why the directory cannot be used ("PATH: reason"), nil while active.
        public var error: String?
    }

    public let settings: Settings
    private let logger: Logger
    /// Nil while the directory is usable, else why not.
    private let directoryError = Mutex<String?>(nil)
    private let activeGauge = Gauge(label: "rerank_capture_active")
    private let droppedUnavailable = Counter(label: "rerank_capture_dropped_total", dimensions: [("reason", "unavailable")])
    private let queue = DispatchQueue(label: "rerank.capture", qos: .utility)
    private let pending = Atomic(0)
    /// The open capture file (-1: none), its path and the bytes of whole lines in it.
    private let state = Mutex<(fd: Int32, path: String, bytes: Int, lastErrorLog: Date)>((-1, "", 0, .distantPast))
    private let written = Counter(label: "rerank_capture_lines_total")
    private let droppedFull = Counter(label: "rerank_capture_dropped_total", dimensions: [("reason", "queue_full")])
    private let droppedError = Counter(label: "rerank_capture_dropped_total", dimensions: [("reason", "write_error")])
    /// "-<host>-" in this server's file names: in a container every replica's pid is 1, the host name differs.
    private let hostTag = "-" + String(ProcessInfo.processInfo.hostName.map {
        $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") ? $0 : "_" }) + "-"

    /// Creates the directory if it is missing. One that cannot be used is reported by `status` (the caller logs it,
    /// naming its flag) and retried every `retryInterval` seconds; nothing is thrown: capture must not stop serving.
    public init(settings: Settings, logger: Logger) {
        precondition((0...1).contains(settings.rate))
        self.settings = settings
        self.logger = logger
        if let error = Self.prepare(settings.directory) {
            directoryError.withLock { $0 = error }
            activeGauge.record(0)
            scheduleRetry()
        } else {
            activeGauge.record(1)
        }
    }

    public var status: Status {
        let error = directoryError.withLock { $0 }
        return Status(directory: settings.directory.path, rate: settings.rate, active: error == nil, error: error)
    }

    /// Creates `directory` (and its parents) when missing and checks it can be written; nil when usable, else
    /// "PATH: reason" in the operating system's words.
    static func prepare(_ directory: URL) -> String? {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            let text = ErrorText.describe(error)
            return text.hasPrefix("/") ? text : "\(directory.path): \(text)"
        }
        guard access(directory.path, W_OK | X_OK) == 0 else {
            return "\(directory.path): \(String(cString: strerror(errno)))"
        }
        return nil
    }

    /// Tries the directory again after `retryInterval`, and again after each failure, until it can be used.
    private func scheduleRetry() {
        queue.asyncAfter(deadline: .now() + settings.retryInterval) { [weak self] in
            guard let self else { return }
            if let error = Self.prepare(settings.directory) {
                directoryError.withLock { $0 = error }
                scheduleRetry()
            } else {
                directoryError.withLock { $0 = nil }
                activeGauge.record(1)
                logger.notice("request capture: \(settings.directory.path) can be used now; capturing")
            }
        }
    }

    /// Called on the request path; returns at once.
    public func offer(query: String, documents: [String]) {
        guard settings.rate > 0, Double.random(in: 0..<1) < settings.rate else { return }
        if directoryError.withLock({ $0 != nil }) {
            droppedUnavailable.increment()
            return
        }
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

    deinit {
        state.withLock { state in
            if state.fd >= 0 { close(state.fd) }
        }
    }

    /// Appends `line` to the current file, opening a new one (owner-only: it holds users' text) when there is none,
    /// when this one is full or when it was deleted. A line that cannot be written is cut off again, so the file
    /// holds whole lines, and the file is kept: a full volume drops lines, it does not create a file per line.
    private func write(_ line: Data) {
        state.withLock { state in
            do {
                if state.fd >= 0 {
                    var info = stat()
                    let full = state.bytes > 0 && state.bytes + line.count > settings.maxFileBytes
                    if full || fstat(state.fd, &info) != 0 || info.st_nlink == 0 {
                        close(state.fd)
                        state.fd = -1
                    }
                }
                if state.fd < 0 {
                    let name = "capture-\(Self.stamp())\(hostTag)\(getpid()).jsonl"
                    let path = settings.directory.appendingPathComponent(name).path
                    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o600)
                    guard fd >= 0 else { throw CaptureWriteError(path: path, reason: String(cString: strerror(errno))) }
                    state = (fd, path, 0, state.lastErrorLog)
                    pruneOldFiles(keeping: path)
                }
                if let reason = line.withUnsafeBytes({ writeAll(state.fd, $0) }) {
                    _ = ftruncate(state.fd, off_t(state.bytes))
                    throw CaptureWriteError(path: state.path, reason: reason)
                }
                state.bytes += line.count
                written.increment()
            } catch {
                droppedError.increment()
                if Date().timeIntervalSince(state.lastErrorLog) > 60 {
                    state.lastErrorLog = Date()
                    logger.error("request capture: a line was dropped", metadata: [
                        "directory": "\(settings.directory.path)", "error": "\(error)"])
                }
            }
        }
    }

    private struct CaptureWriteError: Error, CustomStringConvertible {
        let path: String
        let reason: String
        var description: String { "\(path): \(reason)" }
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

/// Writes all of `bytes` to `fd`; the operating system's reason on failure.
private func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> String? {
    var done = 0
    while done < bytes.count {
        let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
        if n < 0 {
            if errno == EINTR { continue }
            return String(cString: strerror(errno))
        }
        done += n
    }
    return nil
}
