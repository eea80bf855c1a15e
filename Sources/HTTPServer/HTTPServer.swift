import CMalloc
import Dispatch
import Foundation
import Logging

/// A request the server refuses itself: its status, why (for people), and the request target when its head was
/// read; returns the response to send.
public typealias HTTPRefusal = @Sendable (_ status: Int, _ reason: String, _ target: String?) -> HTTPResponse

/// A general-purpose HTTP/1.1 and h2c server on non-blocking POSIX sockets driven by Dispatch.
/// Connections are spread over a few serial queues; handlers are called there and may answer later
/// from any thread. Unchecked Sendable: the connection table and state are guarded by `lock`, the listener
/// and accept source are touched only on the `control` queue.
public final class HTTPServer: @unchecked Sendable {
    private enum State { case idle, running, draining, stopped }

    public let configuration: HTTPServerConfiguration
    public let logger: Logger
    let handler: HTTPHandler
    let bodyBudget: BodyBudget
    /// Builds the answer to a request the server refuses itself (a protocol error or a limit).
    let refusal: HTTPRefusal

    private let lock = NSLock()
    private var state = State.idle
    private var connections: [ObjectIdentifier: Connection] = [:]
    private var listener: Int32 = -1
    private var acceptSource: DispatchSourceRead?
    private var acceptSuspended = false
    /// Connections closed to make room that have not finished closing yet.
    private var evicting = 0
    /// The most bytes the budget held since memory was last given back (see `giveMemoryBack`).
    private var budgetHighWater = 0
    /// The most bytes the budget held since it was last empty for a while, and the ticks it has been empty.
    private var burstPeak = 0
    private var idleTicks = 0
    private var ticker: DispatchSourceTimer?
    private let control = DispatchQueue(label: "HTTPServer.accept")
    private let drained = DispatchSemaphore(value: 0)
    private var date = HTTPDate.format(time(nil))
    private var port = 0
    /// Connections are spread over a few event loops, one per core by default.
    private let loops: [EventLoop]
    private var nextLoop = 0

    /// - Parameter refusal: the response to a request the server refuses before any handler sees it (400, 408,
    ///   413, 431, HTTP/2's 503 over the body budget), so the application can answer in its own format and count
    ///   it. The default is a short plain-text body.
    public init(configuration: HTTPServerConfiguration, logger: Logger = Logger(label: "HTTPServer"),
                refusal: HTTPRefusal? = nil,
                handler: @escaping HTTPHandler) {
        self.configuration = configuration
        self.logger = logger
        self.handler = handler
        self.refusal = refusal ?? { status, _, _ in .error(status) }
        bodyBudget = BodyBudget(capacity: configuration.limits.maxBufferedBodyBytes)
        let count = max(1, configuration.eventLoops ?? ProcessInfo.processInfo.activeProcessorCount)
        loops = (0..<count).map { EventLoop(label: "HTTPServer.loop\($0)") }
    }

    /// The port actually bound (useful with port 0).
    public var boundPort: Int {
        lock.lock()
        defer { lock.unlock() }
        return port
    }

    /// Request body bytes buffered right now by HTTP/2 streams still receiving.
    public var bufferedBodyBytes: Int { bodyBudget.inUse }

    /// Open connections right now.
    public var connectionCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return connections.count
    }

    var dateHeader: String {
        lock.lock()
        defer { lock.unlock() }
        return date
    }

    /// Binds, listens and starts accepting. SIGPIPE is ignored from here on.
    public func start() throws {
        Socket.ignoreSIGPIPE()
        let (fd, bound) = try Socket.listen(host: configuration.host, port: configuration.port,
                                            backlog: configuration.backlog)
        lock.lock()
        listener = fd
        port = bound
        state = .running
        lock.unlock()

        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: control)
        source.setEventHandler { [unowned self] in self.acceptPending() }
        source.setCancelHandler { Glibc.close(fd) }
        acceptSource = source
        source.resume()

        let timer = DispatchSource.makeTimerSource(queue: control)
        timer.schedule(deadline: .now() + .milliseconds(250), repeating: .milliseconds(250), leeway: .milliseconds(50))
        timer.setEventHandler { [unowned self] in self.tick() }
        ticker = timer
        timer.resume()
        logger.info("listening", metadata: ["host": "\(configuration.host)", "port": "\(bound)"])
    }

    /// Stops accepting, lets in-flight requests finish (HTTP/2 peers get GOAWAY), and after
    /// `drainTimeout` closes whatever is left. Blocks until every connection is closed.
    public func shutdown(drainTimeout: Duration) {
        lock.lock()
        guard state == .running else {
            lock.unlock()
            return
        }
        state = .draining
        let open = Array(connections.values)
        lock.unlock()

        control.sync {
            if let source = acceptSource {
                source.cancel()
                if acceptSuspended {
                    acceptSuspended = false
                    source.resume()
                }
            }
        }
        logger.info("shutting down", metadata: ["connections": "\(open.count)"])
        for connection in open {
            connection.queue.async { connection.beginShutdown() }
        }
        if !waitUntilDrained(timeout: drainTimeout) {
            lock.lock()
            let left = Array(connections.values)
            lock.unlock()
            logger.notice("drain timeout: closing connections", metadata: ["connections": "\(left.count)"])
            for connection in left {
                connection.queue.async { connection.close() }
            }
            _ = waitUntilDrained(timeout: .seconds(5))
        }
        control.sync {
            ticker?.cancel()
            ticker = nil
        }
        lock.lock()
        state = .stopped
        lock.unlock()
    }

    private func waitUntilDrained(timeout: Duration) -> Bool {
        let deadline = DispatchTime.now() + .nanoseconds(Int(timeout.nanoseconds))
        while true {
            lock.lock()
            let empty = connections.isEmpty
            lock.unlock()
            if empty { return true }
            if drained.wait(timeout: deadline) == .timedOut { return connectionCount == 0 }
        }
    }

    // MARK: Accepting (on `control`)

    private func acceptPending() {
        let limit = configuration.limits.maxConnections
        while true {
            lock.lock()
            let full = connections.count - evicting >= limit
            let running = state == .running
            let victim = full ? longestWaiting() : nil
            lock.unlock()
            guard running else { return }
            if full && victim == nil {
                // Further connections wait in the kernel backlog until one closes (or one waits long enough to
                // be evicted: `tick` looks again).
                suspendAccepting()
                return
            }
            let fd: Int32?
            do {
                fd = try Socket.accept(listener)
            } catch {
                // Out of descriptors and similar: back off instead of spinning on a ready listener.
                logger.warning("\(error)")
                suspendAccepting()
                control.asyncAfter(deadline: .now() + .milliseconds(100)) { [weak self] in self?.resumeAccepting() }
                return
            }
            guard let fd else { return }
            lock.lock()
            // Still open (checked under the lock `connectionClosed` takes), so `evicting` is given back exactly once.
            let evict = victim.map {
                connections[ObjectIdentifier($0)] != nil
                    && $0.evicted.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged
            } ?? false
            if evict { evicting += 1 }
            lock.unlock()
            if let victim, evict {
                logger.notice("connection limit: closing the connection that waited longest for a request",
                              metadata: ["fd": "\(victim.fd)"])
                victim.queue.async { victim.close() }
            }
            let connection = Connection(fd: fd, server: self, loop: loops[nextLoop])
            nextLoop = (nextLoop + 1) % loops.count
            lock.lock()
            connections[ObjectIdentifier(connection)] = connection
            lock.unlock()
            connection.queue.async { connection.start() }
        }
    }

    /// After a burst of buffered bodies and responses (slow readers, large pipelines) has gone, hands the freed
    /// heap back to the system: glibc keeps freed memory in its per-thread arenas, and a process that peaked at
    /// gigabytes would otherwise stay that big. On `control`: once the budget has fallen by 64 MB to a quarter
    /// of its peak, and once more when it has been empty for 2 s (what the requests' handlers held is freed by
    /// then too).
    private func giveMemoryBack() {
        let inUse = bodyBudget.inUse
        budgetHighWater = max(budgetHighWater, inUse)
        burstPeak = max(burstPeak, inUse)
        idleTicks = inUse == 0 ? idleTicks + 1 : 0
        if budgetHighWater - inUse >= 64 << 20, inUse <= budgetHighWater / 4 {
            budgetHighWater = inUse
            malloc_trim(0)
        } else if burstPeak >= 64 << 20, idleTicks >= 8 {
            burstPeak = 0
            malloc_trim(0)
        }
    }

    /// The HTTP/1.1 connection that has waited longest for a request, if it has waited long enough to be
    /// closed for a newcomer. Called with `lock` held.
    private func longestWaiting() -> Connection? {
        let now = DispatchTime.now().uptimeNanoseconds
        let patience = configuration.limits.evictWaitingConnectionsAfter.nanoseconds
        var oldest: (Connection, UInt64)? = nil
        for connection in connections.values where !connection.evicted.load(ordering: .relaxed) {
            let since = connection.waitingSince.load(ordering: .relaxed)
            guard since != 0, since + patience <= now else { continue }
            if oldest == nil || since < oldest!.1 { oldest = (connection, since) }
        }
        return oldest?.0
    }

    private func suspendAccepting() {
        guard !acceptSuspended, let source = acceptSource else { return }
        acceptSuspended = true
        source.suspend()
    }

    private func resumeAccepting() {
        lock.lock()
        let running = state == .running
        let room = connections.count < configuration.limits.maxConnections
        lock.unlock()
        guard running, room, acceptSuspended, let source = acceptSource else { return }
        acceptSuspended = false
        source.resume()
    }

    func connectionClosed(_ connection: Connection) {
        lock.lock()
        connections.removeValue(forKey: ObjectIdentifier(connection))
        if connection.evicted.load(ordering: .relaxed) { evicting -= 1 }
        let state = self.state
        let empty = connections.isEmpty
        lock.unlock()
        if state == .running {
            control.async { [weak self] in self?.resumeAccepting() }
        } else if state == .draining && empty {
            drained.signal()
        }
    }

    /// Every 250 ms: refresh the date header and let each event loop check its connections' deadlines.
    private func tick() {
        let formatted = HTTPDate.format(time(nil))
        lock.lock()
        date = formatted
        lock.unlock()
        let now = DispatchTime.now().uptimeNanoseconds
        for loop in loops {
            loop.queue.async { loop.checkDeadlines(now: now) }
        }
        giveMemoryBack()
        // At the connection limit, a connection may since have waited long enough to make room for one in the
        // backlog (accept finds out; nothing is closed unless someone is waiting).
        if acceptSuspended { acceptPending() }
    }
}
