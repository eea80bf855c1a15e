import CEpoll
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// A serial queue that owns a set of connections. Their sockets sit in one epoll set, and a single
/// DispatchSource on that set's descriptor wakes the queue: one Dispatch event then serves every
/// ready connection, instead of one event (and two re-arming syscalls) per connection per request.
/// Unchecked: its state is touched only on `queue` (other threads only enqueue work onto it).
final class EventLoop: @unchecked Sendable {
    let queue: DispatchQueue
    private let epoll: Int32
    private var source: DispatchSourceRead?
    private var connections: [Int32: Connection] = [:]
    private var events = [epoll_event](repeating: epoll_event(), count: 256)

    private static let input = EPOLLIN.rawValue
    private static let output = EPOLLOUT.rawValue
    private static let error = EPOLLERR.rawValue
    private static let hangUp = EPOLLHUP.rawValue
    private static let peerHangUp = EPOLLRDHUP.rawValue

    init(label: String) {
        queue = DispatchQueue(label: label)
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        let source = DispatchSource.makeReadSource(fileDescriptor: epoll, queue: queue)
        source.setEventHandler { [unowned self] in self.poll() }
        self.source = source
        source.resume()
    }

    deinit {
        source?.cancel()
        Glibc.close(epoll)
    }

    /// Starts watching `connection` for input. On `queue`.
    func add(_ connection: Connection) {
        connections[connection.fd] = connection
        control(EPOLL_CTL_ADD, connection.fd, read: true, write: false)
    }

    /// Changes which readiness `connection` waits for. On `queue`.
    func watch(_ connection: Connection, read: Bool, write: Bool) {
        control(EPOLL_CTL_MOD, connection.fd, read: read, write: write)
    }

    /// Stops watching before the descriptor is closed. On `queue`.
    func remove(_ connection: Connection) {
        connections.removeValue(forKey: connection.fd)
        var event = epoll_event()
        epoll_ctl(epoll, EPOLL_CTL_DEL, connection.fd, &event)
    }

    /// Lets every connection of this loop check its timeouts. On `queue`.
    func checkDeadlines(now: UInt64) {
        for connection in Array(connections.values) { connection.checkDeadlines(now: now) }
    }

    private func control(_ operation: Int32, _ fd: Int32, read: Bool, write: Bool) {
        var event = epoll_event()
        // Level-triggered: one read per wake-up is enough, what is left is reported again.
        event.events = (read ? EventLoop.input | EventLoop.peerHangUp : 0) | (write ? EventLoop.output : 0)
        event.data.fd = fd
        epoll_ctl(epoll, operation, fd, &event)
    }

    private func poll() {
        let count = events.withUnsafeMutableBufferPointer { epoll_wait(epoll, $0.baseAddress, Int32($0.count), 0) }
        guard count > 0 else { return }
        for i in 0..<Int(count) {
            let event = events[i]
            guard let connection = connections[event.data.fd] else { continue }
            if event.events & (EventLoop.output | EventLoop.error) != 0 { connection.writable() }
            if event.events & (EventLoop.input | EventLoop.peerHangUp | EventLoop.hangUp | EventLoop.error) != 0 {
                connection.readable()
            }
        }
    }
}
