import Synchronization

/// Bytes buffered for requests in flight across every connection of a server, against one cap: HTTP/2 request
/// bodies still arriving, HTTP/1.1 pipelined request bodies and responses not yet answered or not yet read, and
/// every connection's unsent output. Many connections each within their own limits must not add up to more
/// memory than the process may spend on them.
final class BodyBudget: Sendable {
    private let capacity: Int
    /// Atomic, not locked: every response passes through `add` and `release` on both event loops.
    private let used = Atomic<Int>(0)

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Takes `bytes` if they fit; false (and nothing taken) when they do not.
    func take(_ bytes: Int) -> Bool {
        var current = used.load(ordering: .relaxed)
        while current + bytes <= capacity {
            let (exchanged, seen) = used.compareExchange(expected: current, desired: current + bytes, ordering: .relaxed)
            if exchanged { return true }
            current = seen
        }
        return false
    }

    /// Counts `bytes` that are already held whether or not they fit (a response that was computed); the
    /// callers that can wait check `isExhausted` before taking on more.
    func add(_ bytes: Int) {
        used.wrappingAdd(bytes, ordering: .relaxed)
    }

    func release(_ bytes: Int) {
        used.wrappingSubtract(bytes, ordering: .relaxed)
    }

    var isExhausted: Bool { used.load(ordering: .relaxed) >= capacity }

    var inUse: Int { used.load(ordering: .relaxed) }
}
