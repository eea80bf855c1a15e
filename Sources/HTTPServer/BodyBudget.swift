import Synchronization

/// Request body bytes buffered across every connection of a server, against one cap: many connections
/// each within their own limits must not add up to more memory than the process may spend on bodies.
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

    func release(_ bytes: Int) {
        used.withLock { $0 -= bytes }
    }

    var inUse: Int { used.withLock { $0 } }
}
