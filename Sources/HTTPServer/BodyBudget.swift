import Synchronization

/// Bytes buffered for requests in flight across every connection of a server, against one cap: HTTP/2 request
/// bodies still arriving, HTTP/1.1 pipelined request bodies and responses not yet answered or not yet read, and
/// every connection's unsent output. Many connections each within their own limits must not add up to more
/// memory than the process may spend on them.
final class BodyBudget: Sendable {
    private let capacity: Int
    private let used = Mutex(0)

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Takes `bytes` if they fit; false (and nothing taken) when they do not.
    func take(_ bytes: Int) -> Bool {
        used.withLock { used in
            guard used + bytes <= capacity else { return false }
            used += bytes
            return true
        }
    }

    /// Counts `bytes` that are already held whether or not they fit (a response that was computed); the
    /// callers that can wait check `isExhausted` before taking on more.
    func add(_ bytes: Int) {
        used.withLock { $0 += bytes }
    }

    func release(_ bytes: Int) {
        used.withLock { $0 -= bytes }
    }

    var isExhausted: Bool { used.withLock { $0 >= capacity } }

    var inUse: Int { used.withLock { $0 } }
}
