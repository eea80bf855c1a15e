import Dispatch
import Synchronization

/// Caps the access-log lines of requests whose client went away (a reset flood would otherwise write one
/// line per reset stream): at most `perSecond` such lines a second; the rest are counted and reported
/// in one line when the next second starts.
final class AccessLogLimiter: Sendable {
    private struct Window {
        var start: UInt64 = 0
        var written = 0
        var suppressed = 0
    }

    private let perSecond: Int
    private let window = Mutex(Window())

    init(perSecond: Int = 10) {
        self.perSecond = perSecond
    }

    /// Whether to write this line, and how many earlier lines were suppressed (to report first).
    func admit(now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> (write: Bool, suppressedBefore: Int) {
        window.withLock { window in
            var reported = 0
            if now >= window.start + 1_000_000_000 {
                reported = window.suppressed
                window = Window(start: now)
            }
            guard window.written < perSecond else {
                window.suppressed += 1
                return (false, reported)
            }
            window.written += 1
            return (true, reported)
        }
    }
}
