import Dispatch

/// HTTP/1.x on a connection: parses pipelined requests, runs the handler for each, writes responses
/// in request order, and hands the connection to HTTP/2 on a preface or an `Upgrade: h2c`.
final class HTTP1Session: ConnectionSession {
    private struct Exchange {
        let id: UInt64
        let isHEAD: Bool
        let version: HTTPRequest.Version
        let acceptsGzip: Bool
        var keepAlive: Bool
        let responder: HTTPResponder?
        var response: HTTPResponse?
        /// The request body until the response arrives, then the response body, until it is written.
        var heldBytes = 0
    }

    private static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    private unowned let connection: Connection
    private var parser: HTTP1RequestParser
    private var head: HTTP1RequestHead?
    private var exchanges: [Exchange] = []
    private var nextID: UInt64 = 0
    private var sawRequest = false
    /// The first bytes are not the HTTP/2 connection preface.
    private var prefaceRuledOut = false
    /// Sent `100 Continue` for the request whose body is being read, or it was not asked for.
    private var continueHandled = true
    /// No more requests are parsed: an error, `connection: close` or shutdown.
    private var stopped = false
    /// Server shutdown: the request in progress, if any, is the last one.
    private var draining = false
    /// Sum of the exchanges' `heldBytes`, also counted in the server's budget.
    private var heldBytes = 0

    init(connection: Connection) {
        self.connection = connection
        self.parser = HTTP1RequestParser(limits: connection.configuration.limits)
    }

    func process() {
        while !stopped && !connection.closed && exchanges.count < connection.configuration.limits.maxPipelinedRequests
            && !(parser.isIdle && holdsTooMuch) {
            if !sawRequest {
                guard let switched = detectPreface() else { break }
                if switched { return }
            }
            let result: (event: HTTP1RequestParser.Event?, consumed: Int)
            do {
                result = try connection.inbound.withUnsafeBufferPointer { (buffer) throws(HTTPError) in
                    try parser.parse(UnsafeBufferPointer(rebasing: buffer[connection.inboundStart...]))
                }
            } catch {
                fail(error)
                break
            }
            connection.inboundStart += result.consumed
            guard let event = result.event else { break }
            switch event {
            case .head(let parsed):
                sawRequest = true
                head = parsed
                continueHandled = !parsed.expectContinue || parsed.framing == .none
                sendContinueIfDue()
            case .end(let body):
                guard let parsed = head else { break }
                head = nil
                if dispatch(parsed, body: body) { return }
            }
        }
        connection.compactInbound()
        if exchanges.count >= connection.configuration.limits.maxPipelinedRequests || (parser.isIdle && holdsTooMuch) {
            connection.suspendReading()
        }
        updateReadDeadline()
    }

    /// True when the next pipelined request must wait: this connection already holds its cap in request bodies
    /// and responses the client has not read, or the server's budget is spent. A connection that holds
    /// nothing may always go on, so every connection makes progress.
    private var holdsTooMuch: Bool {
        let pending = heldBytes + connection.queuedOutputBytes
        guard pending > 0 else { return false }
        return pending >= connection.configuration.limits.maxConnectionBodyBytes || connection.server.bodyBudget.isExhausted
    }

    private func mayResume() -> Bool {
        !stopped && !connection.closed && !connection.isReading
            && exchanges.count < connection.configuration.limits.maxPipelinedRequests && !holdsTooMuch
    }

    private func hold(_ bytes: Int, for index: Int) {
        let change = bytes - exchanges[index].heldBytes
        guard change != 0 else { return }
        exchanges[index].heldBytes = bytes
        heldBytes += change
        if change > 0 { connection.server.bodyBudget.add(change) } else { connection.server.bodyBudget.release(-change) }
    }

    // MARK: HTTP/2 detection

    /// Before the first request: true when the HTTP/2 preface arrived and the connection switched;
    /// nil while the bytes so far could still be a preface.
    private func detectPreface() -> Bool? {
        if prefaceRuledOut { return false }
        let available = connection.inbound.count - connection.inboundStart
        let n = min(available, HTTP1Session.preface.count)
        let matches = connection.inbound[connection.inboundStart..<connection.inboundStart + n]
            .elementsEqual(HTTP1Session.preface[0..<n])
        if !matches {
            prefaceRuledOut = true
            return false
        }
        if n < HTTP1Session.preface.count { return nil }
        connection.waitingSince.store(0, ordering: .relaxed)
        let session = HTTP2Session(connection: connection)
        connection.session = session
        session.start(upgrade: nil)
        return true
    }

    // MARK: Requests

    /// Runs the handler for a complete request; true when the connection switched to HTTP/2.
    private func dispatch(_ head: HTTP1RequestHead, body: [UInt8]) -> Bool {
        var request = HTTPRequest(method: head.method, target: head.target, version: head.version,
                                  headers: head.headers, body: body)
        if let coding = head.headers["content-encoding"] {
            do {
                request.body = try ContentCoding.decode(body, coding: coding,
                                                        maxOutput: connection.configuration.limits.maxDecodedBodyBytes)
                request.headers.remove("content-encoding")
            } catch {
                fail(error)
                return false
            }
        }
        if exchanges.isEmpty, body.isEmpty, let upgrade = h2cUpgrade(head) {
            guard case let .valid(settings) = upgrade else {
                if case let .invalid(reason) = upgrade { fail(HTTPError(400, reason)) }
                return false
            }
            connection.enqueue(Array("HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: h2c\r\n\r\n".utf8))
            connection.waitingSince.store(0, ordering: .relaxed)
            let session = HTTP2Session(connection: connection)
            connection.session = session
            session.start(upgrade: (settings: settings, request: request))
            return true
        }
        let keepAlive = head.keepAlive && !stopped && !draining
        if !keepAlive { stopped = true }
        connection.waitingSince.store(0, ordering: .relaxed)
        let id = nextID
        nextID += 1
        // A strong capture: a weak one would give the connection a side table and slow every
        // unowned reference to it.
        let connection = self.connection
        let responder = HTTPResponder { response in
            connection.queue.async {
                guard !connection.closed, let session = connection.session as? HTTP1Session else { return }
                session.complete(id, response)
                connection.flush()
            }
        }
        exchanges.append(Exchange(id: id, isHEAD: head.method == "HEAD", version: head.version,
                                  acceptsGzip: ContentCoding.acceptsGzip(head.headers.values("accept-encoding")),
                                  keepAlive: keepAlive, responder: responder, response: nil))
        hold(request.body.count, for: exchanges.count - 1)
        if let response = responder.run(connection.server.handler, request) {
            complete(id, response)
        }
        return false
    }

    enum H2CUpgrade: Equatable {
        case valid(settings: [UInt8])
        case invalid(String)
    }

    /// An `Upgrade: h2c` request (RFC 7540 section 3.2): nil when the request asks for no upgrade (or not
    /// in a form that binds us to one), `.invalid` when its HTTP2-Settings cannot be a SETTINGS payload.
    func h2cUpgrade(_ head: HTTP1RequestHead) -> H2CUpgrade? {
        guard head.version == .http1_1, head.headers.tokens("upgrade").contains("h2c") else { return nil }
        let connectionTokens = head.headers.tokens("connection")
        let values = head.headers.values("http2-settings")
        guard connectionTokens.contains("upgrade"), connectionTokens.contains("http2-settings") else { return nil }
        guard values.count == 1 else { return .invalid("h2c upgrade needs exactly one HTTP2-Settings field") }
        guard let settings = Base64URL.decode(values[0]) else { return .invalid("HTTP2-Settings is not base64url") }
        if let problem = Self.settingsProblem(settings) { return .invalid("HTTP2-Settings: \(problem)") }
        return .valid(settings: settings)
    }

    /// Why a SETTINGS payload is invalid (RFC 9113 section 6.5.2), or nil.
    static func settingsProblem(_ payload: [UInt8]) -> String? {
        guard payload.count % 6 == 0 else { return "length \(payload.count) is not a multiple of 6" }
        for offset in stride(from: 0, to: payload.count, by: 6) {
            let id = Int(payload[offset]) << 8 | Int(payload[offset + 1])
            let value = payload[(offset + 2)..<(offset + 6)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            switch id {
            case 0x2 where value > 1: return "ENABLE_PUSH must be 0 or 1"
            case 0x4 where value > 0x7FFF_FFFF: return "INITIAL_WINDOW_SIZE over 2^31-1"
            case 0x5 where value < 16384 || value > 16_777_215: return "MAX_FRAME_SIZE outside [2^14, 2^24-1]"
            default: continue
            }
        }
        return nil
    }

    private func complete(_ id: UInt64, _ response: HTTPResponse) {
        guard let index = exchanges.firstIndex(where: { $0.id == id }) else { return }
        exchanges[index].response = response
        hold(response.body.count, for: index)
        writeCompletedInOrder()
    }

    /// Writes every finished response at the head of the queue (pipelined responses keep request order).
    private func writeCompletedInOrder() {
        var closing = false
        while let first = exchanges.first, var response = first.response {
            hold(0, for: 0)
            exchanges.removeFirst()
            ResponseCompression.apply(&response, acceptsGzip: first.acceptsGzip,
                                      threshold: connection.configuration.gzipThreshold)
            // The handler may end the connection with `connection: close`.
            let keepAlive = first.keepAlive
                && !(response.headers["connection"] != nil && response.headers.tokens("connection").contains("close"))
            let bytes = HTTP1ResponseEncoder.encode(
                response, includeBody: !first.isHEAD, keepAlive: keepAlive, requestVersion: first.version,
                date: connection.server.dateHeader, serverName: connection.configuration.serverName)
            connection.enqueue(bytes)
            if !keepAlive {
                closing = true
                break
            }
        }
        if closing {
            for exchange in exchanges { exchange.responder?.cancel() }
            releaseAll()
            stopped = true
            connection.closeWhenDrained = true
            return
        }
        if exchanges.isEmpty && parser.isIdle {
            connection.waitingSince.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed)
        }
        sendContinueIfDue()
        if mayResume() {
            connection.resumeReading()
            process()
        }
        updateReadDeadline()
    }

    private func releaseAll() {
        connection.server.bodyBudget.release(heldBytes)
        heldBytes = 0
        exchanges = []
    }

    /// `100 Continue` goes out only when no earlier response is still owed, to keep responses ordered.
    private func sendContinueIfDue() {
        guard !continueHandled, exchanges.isEmpty, head != nil else { return }
        continueHandled = true
        connection.enqueue(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
    }

    /// Answers a bad or over-limit request after the responses owed before it, then closes.
    private func fail(_ error: HTTPError) {
        connection.logger.notice("\(error.status) \(error.reason)", metadata: ["fd": "\(connection.fd)"])
        stopped = true
        let response = connection.server.refusal(error.status, error.reason, error.target ?? head?.target)
        exchanges.append(Exchange(id: nextID, isHEAD: false, version: .http1_1, acceptsGzip: false,
                                  keepAlive: false, responder: nil, response: response))
        nextID += 1
        writeCompletedInOrder()
    }

    private func updateReadDeadline() {
        if connection.closeWhenDrained || connection.closed { return }
        if parser.isReadingBody {
            connection.setReadDeadline(.body, refresh: true)
        } else if !parser.isIdle || connection.inboundStart < connection.inbound.count {
            connection.setReadDeadline(.head)
        } else if !exchanges.isEmpty {
            connection.setReadDeadline(.none)
        } else {
            connection.setReadDeadline(.idle)
        }
    }

    // MARK: ConnectionSession

    /// The client read what was owed: a pipeline held back by the connection's cap goes on. Later on the
    /// queue, not inside the flush that called this.
    func writesDrained() {
        guard mayResume() else { return }
        connection.queue.async { [connection] in
            guard let session = connection.session as? HTTP1Session, session.mayResume() else { return }
            connection.resumeReading()
            session.process()
            connection.flush()
        }
    }

    func readTimedOut(_ kind: Connection.ReadDeadline) {
        switch kind {
        case .head where !sawRequest && parser.isIdle && connection.inbound.isEmpty, .idle:
            connection.close()
        case .head, .body:
            connection.logger.notice("408 \(kind == .head ? "request head" : "request body") timed out",
                                     metadata: ["fd": "\(connection.fd)"])
            if exchanges.isEmpty {
                stopped = true
                let reason = kind == .head ? "request head timed out" : "request body timed out"
                exchanges.append(Exchange(id: nextID, isHEAD: false, version: .http1_1, acceptsGzip: false,
                                          keepAlive: false, responder: nil,
                                          response: connection.server.refusal(408, reason, head?.target)))
                writeCompletedInOrder()
            } else {
                connection.close()
            }
        case .none, .linger, .sendWindow:
            break
        }
    }

    func peerClosed() {
        // As nginx: a client that closes while its requests are outstanding has gone away.
        connection.close()
    }

    func beginShutdown() {
        draining = true
        if exchanges.isEmpty && parser.isIdle && connection.inboundStart == connection.inbound.count {
            connection.close()
        } else if parser.isIdle && !exchanges.isEmpty {
            // No request in progress: the last owed response closes the connection.
            stopped = true
            exchanges[exchanges.count - 1].keepAlive = false
        }
    }

    func cancelAll() {
        let pending = exchanges
        releaseAll()
        for exchange in pending { exchange.responder?.cancel() }
    }
}
