import Foundation
import Synchronization

/// Progress of a long job on standard error: a bar redrawn in place with rates and ETA on a terminal,
/// a plain line every `interval` seconds otherwise (logs), nothing with --quiet. A total of 0 means
/// unknown (a streamed input): a count and a rate only.
final class Progress {
    let label: String
    let total: Int
    let unit: String
    let quiet: Bool
    let interactive = isatty(STDERR_FILENO) != 0
    let interval: TimeInterval
    private let start = Date()
    private var lastDraw = Date.distantPast
    private(set) var done = 0
    private var drawnDone = -1
    private var resumed = 0
    private var detail: String?
    private(set) var work = 0
    private let workUnit: String?

    init(label: String, total: Int, unit: String, workUnit: String? = nil, quiet: Bool, interval: TimeInterval = 10) {
        self.label = label
        self.total = total
        self.unit = unit
        self.workUnit = workUnit
        self.quiet = quiet
        self.interval = interval
    }

    /// Counts `items` finished items that took `work` units (prompts) and redraws when due.
    /// `detail` (e.g. the current loss) is shown after the rates until the next call replaces it.
    func advance(items: Int = 1, work: Int = 0, detail: String? = nil) {
        if let detail { self.detail = detail }
        done += items
        self.work += work
        let now = Date()
        if now.timeIntervalSince(lastDraw) >= (interactive ? 0.1 : interval) || (total > 0 && done == total) { draw(now) }
    }

    /// Counts items finished by an earlier run, with a line saying so.
    func resume(done: Int) {
        guard done > 0 else { return }
        self.done = done
        resumed = done
        if !quiet { write("\(label): resuming, \(done) of \(total) \(unit) already done\n") }
    }

    /// The final line (always printed unless quiet).
    func finish(_ message: String? = nil) {
        guard !quiet else { return }
        if drawnDone != done { draw(Date()) }
        if interactive { write("\n") }
        if let message { write("\(label): \(message)\n") }
    }

    var summary: String {
        let seconds = Date().timeIntervalSince(start)
        var text = total > 0 ? "\(done - resumed)/\(total - resumed) \(unit)" : "\(done) \(unit)"
        text += " in \(String(format: "%.1f", seconds)) s"
        if let workUnit { text += ", \(work) \(workUnit)" }
        return text
    }

    private func draw(_ now: Date) {
        lastDraw = now
        drawnDone = done
        guard !quiet else { return }
        let seconds = max(now.timeIntervalSince(start), 1e-9)
        let rate = Double(done - resumed) / seconds  // this run's pace, for an honest ETA
        var text = (total > 0 ? "\(done)/\(total) \(unit)" : "\(done) \(unit)") + ", \(String(format: "%.2f", rate)) \(unit)/s"
        if let workUnit { text += ", \(String(format: "%.1f", Double(work) / seconds)) \(workUnit)/s" }
        if done > 0, done < total { text += ", ETA \(Self.duration(Double(total - done) / rate))" }
        if let detail { text += ", \(detail)" }
        if interactive && total == 0 {
            write("\r\(label): \(text)\u{1B}[K")
        } else if interactive {
            let width = 24
            let filled = total > 0 ? width * done / total : width
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            write("\r\(label) [\(bar)] \(text)\u{1B}[K")
        } else {
            write("\(label): \(text)\n")
        }
    }

    private func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
    }
}

/// SIGINT and SIGTERM ask a job to stop at the next safe point instead of killing it mid-write.
final class StopSignal {
    /// Set once either signal has arrived; safe to poll from any thread.
    let flag = StopFlag()
    private let sources: [any DispatchSourceSignal]

    init() {
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            return DispatchSource.makeSignalSource(signal: number, queue: .global())
        }
        for source in sources {
            source.setEventHandler { [flag] in flag.set() }
            source.resume()
        }
    }

    var isSet: Bool { flag.isSet }
}

final class StopFlag: Sendable {
    private let value = Atomic(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}
