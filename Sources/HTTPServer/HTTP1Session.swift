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

    init(connection: Connection) {
        self.connection = connection
        self.parser = HTTP1RequestParser(limits: connection.configuration.limits)
    }

    func process() {
        while !stopped && !connection.closed && exchanges.count < connection.configuration.limits.maxPipelinedRequests {
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
        if exchanges.count >= connection.configuration.limits.maxPipelinedRequests {
            connection.suspendReading()
        }
        updateReadDeadline()
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
        if exchanges.isEmpty, body.isEmpty, let settings = h2cSettings(head) {
            connection.enqueue(Array("HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: h2c\r\n\r\n".utf8))
            let session = HTTP2Session(connection: connection)
            connection.session = session
            session.start(upgrade: (settings: settings, request: request))
            return true
        }
        let keepAlive = head.keepAlive && !stopped && !draining
        if !keepAlive { stopped = true }
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
        if let response = responder.run(connection.server.handler, request) {
            complete(id, response)
        }
        return false
    }

    /// The decoded HTTP2-Settings of a valid `Upgrade: h2c` request (RFC 7540 section 3.2), else nil.
    private func h2cSettings(_ head: HTTP1RequestHead) -> [UInt8]? {
        guard head.version == .http1_1, head.headers.tokens("upgrade").contains("h2c") else { return nil }
        let connectionTokens = head.headers.tokens("connection")
        let values = head.headers.values("http2-settings")
        guard connectionTokens.contains("upgrade"), connectionTokens.contains("http2-settings"), values.count == 1
        else { return nil }
        return Base64URL.decode(values[0])
    }

    private func complete(_ id: UInt64, _ response: HTTPResponse) {
        guard let index = exchanges.firstIndex(where: { $0.id == id }) else { return }
        exchanges[index].response = response
        writeCompletedInOrder()
    }

    /// Writes every finished response at the head of the queue (pipelined responses keep request order).
    private func writeCompletedInOrder() {
        var closing = false
        while let first = exchanges.first, var response = first.response {
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
            exchanges = []
            stopped = true
            connection.closeWhenDrained = true
            return
        }
        sendContinueIfDue()
        if !connection.isReading && exchanges.count < connection.configuration.limits.maxPipelinedRequests {
            connection.resumeReading()
            process()
        }
        updateReadDeadline()
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
        exchanges.append(Exchange(id: nextID, isHEAD: false, version: .http1_1, acceptsGzip: false,
                                  keepAlive: false, responder: nil, response: .error(error.status)))
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

    func writesDrained() {}

    func readTimedOut(_ kind: Connection.ReadDeadline) {
        switch kind {
        case .head where !sawRequest && parser.isIdle && connection.inbound.isEmpty, .idle:
            connection.close()
        case .head, .body:
            connection.logger.notice("408 \(kind == .head ? "request head" : "request body") timed out",
                                     metadata: ["fd": "\(connection.fd)"])
            if exchanges.isEmpty {
                stopped = true
                exchanges.append(Exchange(id: nextID, isHEAD: false, version: .http1_1, acceptsGzip: false,
                                          keepAlive: false, responder: nil, response: .error(408)))
                writeCompletedInOrder()
            } else {
                connection.close()
            }
        case .none, .linger:
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
        exchanges = []
        for exchange in pending { exchange.responder?.cancel() }
    }
}
