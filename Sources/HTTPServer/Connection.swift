import Dispatch
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The protocol spoken on a connection (HTTP/1.1, then possibly HTTP/2 after a preface or upgrade).
protocol ConnectionSession: AnyObject {
    /// Consumes what it can of `connection.inbound[connection.inboundStart...]`.
    func process()
    /// Every queued byte was written.
    func writesDrained()
    /// The read deadline set through `connection.setReadDeadline` passed.
    func readTimedOut(_ kind: Connection.ReadDeadline)
    /// The peer closed its side (or the socket failed).
    func peerClosed()
    /// Server shutdown: finish in-flight work, accept no new requests.
    func beginShutdown()
    /// The connection is closing: cancel every outstanding responder.
    func cancelAll()
}

/// One accepted socket: non-blocking reads and writes driven by its event loop's Dispatch source,
/// buffering, deadlines and close. Everything here runs on `queue`; unchecked Sendable because other
/// threads only hop onto that serial queue (`connection.queue.async { ... }`), never touch state directly.
final class Connection: @unchecked Sendable {
    /// `sendWindow`: HTTP/2 responses wait on a flow-control window the peer keeps shut.
    enum ReadDeadline: Equatable { case none, head, body, idle, linger, sendWindow }

    let fd: Int32
    let loop: EventLoop
    var queue: DispatchQueue { loop.queue }
    let server: HTTPServer
    var logger: Logger { server.logger }
    var configuration: HTTPServerConfiguration { server.configuration }

    var inbound: [UInt8] = []
    var inboundStart = 0
    private var outbound: [UInt8] = []
    private var outboundStart = 0

    /// False while reading is suspended for backpressure.
    private(set) var isReading = true
    private var writing = false
    private(set) var readDeadlineKind = ReadDeadline.none
    private var readDeadline: UInt64 = 0
    private var writeDeadline: UInt64 = 0
    /// When responses waiting on the peer's flow-control window must have moved by (0: none waiting).
    private var sendStallDeadline: UInt64 = 0
    private(set) var closed = false
    private var lingering = false
    /// Start a lingering close once the outbound buffer drains.
    var closeWhenDrained = false
    var session: ConnectionSession!
    /// Since when (uptime ns) the connection has held no request and waited for one; 0 while it serves one, or
    /// for good once it speaks HTTP/2. Read by the accept loop, on another queue, to pick whom to evict.
    let waitingSince = Atomic<UInt64>(0)
    /// Closed by the accept loop to make room for a newcomer.
    let evicted = Atomic<Bool>(false)

    init(fd: Int32, server: HTTPServer, loop: EventLoop) {
        self.fd = fd
        self.server = server
        self.loop = loop
    }

    func start() {
        waitingSince.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed)
        session = HTTP1Session(connection: self)
        setReadDeadline(.head)
        loop.add(self)
    }

    /// Server shutdown: the session finishes what is in flight, then the connection closes.
    func beginShutdown() {
        if closed { return }
        session.beginShutdown()
        flush()
    }

    var hasPendingOutput: Bool { outboundStart < outbound.count }

    // MARK: Reading

    func readable() {
        if closed { return }
        var ended = false
        withUnsafeTemporaryAllocation(byteCount: 64 * 1024, alignment: 16) { buffer in
            // A few reads per event, so one busy peer cannot starve the others on this thread.
            for _ in 0..<4 {
                switch Socket.read(fd, into: buffer) {
                case .data(let n):
                    if !lingering { inbound.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<n])) }
                    if n < buffer.count { return }
                case .wouldBlock:
                    return
                case .eof, .failed:
                    ended = true
                    return
                }
            }
        }
        if lingering {
            if ended { close() }
            return
        }
        if inboundStart < inbound.count { session.process() }
        if ended && !closed { session.peerClosed() }
        flush()
    }

    /// Drops consumed input; frees the buffer entirely when empty so idle connections stay small.
    func compactInbound() {
        if inboundStart == inbound.count {
            inbound = []
            inboundStart = 0
        } else if inboundStart > 64 * 1024 {
            inbound.removeFirst(inboundStart)
            inboundStart = 0
        }
    }

    /// Stops reading (backpressure) until `resumeReading`.
    func suspendReading() {
        guard isReading, !closed else { return }
        isReading = false
        loop.watch(self, read: false, write: writing)
    }

    func resumeReading() {
        guard !isReading, !closed else { return }
        isReading = true
        loop.watch(self, read: true, write: writing)
    }

    // MARK: Writing

    /// Unsent output counts in the server's budget until it is written or the connection closes.
    func enqueue(_ bytes: [UInt8]) {
        guard !closed else { return }
        outbound.append(contentsOf: bytes)
        server.bodyBudget.add(bytes.count)
    }

    func enqueue(_ bytes: UnsafeRawBufferPointer) {
        guard !closed else { return }
        outbound.append(contentsOf: bytes)
        server.bodyBudget.add(bytes.count)
    }

    var queuedOutputBytes: Int { outbound.count - outboundStart }

    /// Writes what the socket takes now; arms the write source for the rest.
    func flush() {
        if closed { return }
        while outboundStart < outbound.count {
            let sent = outbound.withUnsafeBytes {
                Socket.send(fd, UnsafeRawBufferPointer(rebasing: $0[outboundStart...]))
            }
            guard let n = sent else {
                close()
                return
            }
            if n == 0 {
                armWrite()
                return
            }
            outboundStart += n
            server.bodyBudget.release(n)
            writeDeadline = DispatchTime.now().uptimeNanoseconds + configuration.timeouts.write.nanoseconds
        }
        if outbound.capacity <= 64 * 1024 {
            outbound.removeAll(keepingCapacity: true)
        } else {
            outbound = []
        }
        outboundStart = 0
        writeDeadline = 0
        disarmWrite()
        if closeWhenDrained {
            lingeringClose()
            return
        }
        session.writesDrained()
    }

    func writable() {
        flush()
    }

    private func armWrite() {
        if writeDeadline == 0 {
            writeDeadline = DispatchTime.now().uptimeNanoseconds + configuration.timeouts.write.nanoseconds
        }
        if !writing {
            writing = true
            loop.watch(self, read: isReading, write: true)
        }
    }

    private func disarmWrite() {
        if writing {
            writing = false
            loop.watch(self, read: isReading, write: false)
        }
    }

    // MARK: Deadlines

    /// Sets the read deadline for `kind` to an absolute time (uptime nanoseconds).
    func setReadDeadline(_ kind: ReadDeadline, at deadline: UInt64) {
        readDeadlineKind = kind
        readDeadline = deadline
    }

    /// Sets the read deadline for `kind`; an unchanged kind keeps its deadline unless `refresh`.
    func setReadDeadline(_ kind: ReadDeadline, refresh: Bool = false) {
        if kind == readDeadlineKind && !refresh { return }
        readDeadlineKind = kind
        let timeouts = configuration.timeouts
        let span: Duration
        switch kind {
        case .none: readDeadline = 0; return
        case .head: span = timeouts.head
        case .body: span = timeouts.body
        case .idle: span = timeouts.idle
        case .linger: span = .seconds(2)
        case .sendWindow: span = timeouts.write
        }
        readDeadline = DispatchTime.now().uptimeNanoseconds + span.nanoseconds
    }

    /// Responses are `stalled` on a window the peer keeps shut (HTTP/2); `progress` when body bytes moved.
    /// Separate from the read deadline, so a client still uploading cannot keep stalled responses alive.
    func setSendStall(_ stalled: Bool, progress: Bool) {
        if !stalled {
            sendStallDeadline = 0
        } else if sendStallDeadline == 0 || progress {
            sendStallDeadline = DispatchTime.now().uptimeNanoseconds + configuration.timeouts.write.nanoseconds
        }
    }

    func checkDeadlines(now: UInt64) {
        if closed { return }
        if sendStallDeadline != 0 && now >= sendStallDeadline {
            sendStallDeadline = 0
            session.readTimedOut(.sendWindow)
            flush()
            return
        }
        if writeDeadline != 0 && now >= writeDeadline {
            logger.notice("write timeout: peer not reading", metadata: ["fd": "\(fd)"])
            close()
            return
        }
        if readDeadline != 0 && now >= readDeadline {
            let kind = readDeadlineKind
            setReadDeadline(.none)
            if kind == .linger {
                close()
                return
            }
            session.readTimedOut(kind)
            flush()
        }
    }

    // MARK: Closing

    /// Half-closes after the last response and discards input briefly, so the peer reads the
    /// response instead of a reset (as nginx's lingering close).
    func lingeringClose() {
        if closed || lingering { return }
        lingering = true
        closeWhenDrained = false
        inbound = []
        inboundStart = 0
        shutdown(fd, Int32(SHUT_WR))
        session.cancelAll()
        resumeReading()
        setReadDeadline(.linger)
    }

    func close() {
        if closed { return }
        closed = true
        session.cancelAll()
        server.bodyBudget.release(outbound.count - outboundStart)
        inbound = []
        outbound = []
        outboundStart = 0
        loop.remove(self)
        Glibc.close(fd)
        server.connectionClosed(self)
    }
}
