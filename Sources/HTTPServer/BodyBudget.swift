import Foundation

/// Request body bytes buffered across every connection of a server, against one cap: many connections
/// each within their own limits must not add up to more memory than the process may spend on bodies.
final class BodyBudget: @unchecked Sendable {  // a counter under a lock
    private let lock = NSLock()
    private let capacity: Int
    private var used = 0

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Takes `bytes` if they fit; false (and nothing taken) when they do not.
    func take(_ bytes: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard used + bytes <= capacity else { return false }
        used += bytes
        return true
    }

    func release(_ bytes: Int) {
        lock.lock()
        used -= bytes
        lock.unlock()
    }

    var inUse: Int {
        lock.lock()
        defer { lock.unlock() }
        return used
    }
}
