import Dispatch
import Foundation
import HTTPServer
import Synchronization
import XCTest

/// Connection-level behaviour over raw sockets: pipelining order, 100-continue, timeouts,
/// the connection limit, client disconnects, and graceful shutdown.
final class ConnectionBehaviourTests: XCTestCase {
    /// `/slow` answers after 300 ms from another queue; everything else echoes at once.
    private static let slowOrEcho: HTTPHandler = { request, responder in
        guard request.path == "/slow" else { return TestServer.echo(request, responder) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) {
            responder.respond(HTTPResponse(status: 200, headers: HTTPHeaders([("x-path", "/slow")]), body: Array("slow".utf8)))
        }
    }

    func testPipelinedResponsesKeepRequestOrder() throws {
        let server = try TestServer(handler: Self.slowOrEcho)
        let client = try RawClient(port: server.port)
        client.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /a HTTP/1.1\r\nHost: a\r\n\r\nPOST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi")
        let responses = client.readResponses(3)
        XCTAssertEqual(responses.map { $0.headers["x-path"] ?? "" }, ["/slow", "/a", "/b"])
        XCTAssertEqual(responses.map(\.body), ["slow", "hello\n", "hi"])
    }

    func testPipelineLimitPausesReadingAndResumes() throws {
        let server = try TestServer { $0.limits.maxPipelinedRequests = 2 } handler: { request, responder in
            DispatchQueue.global().asyncAfter(deadline: .now() + 0.05) {
                responder.respond(HTTPResponse(status: 200, headers: HTTPHeaders([("x-path", request.path)])))
            }
        }
        let client = try RawClient(port: server.port)
        client.send((1...6).map { "GET /\($0) HTTP/1.1\r\nHost: a\r\n\r\n" }.joined())
        XCTAssertEqual(client.readResponses(6).map { $0.headers["x-path"] ?? "" }, (1...6).map { "/\($0)" })
    }

    /// A client that pipelines many requests with large responses and never reads: the server stops taking its
    /// next request once the connection holds more than its cap in unsent responses (it used to answer every one
    /// and queue them all, gigabytes over 40 such connections), counts those bytes in the server's budget, and
    /// gives them back when the connection goes.
    func testPipeliningSlowReaderIsHeldToTheConnectionCap() throws {
        let handled = Mutex(0)
        let response = [UInt8](repeating: 0x61, count: 1 << 20)
        let server = try TestServer { $0.limits.maxConnectionBodyBytes = 4 << 20 } handler: { _, responder in
            handled.withLock { $0 += 1 }
            responder.respond(HTTPResponse(status: 200, body: response))
        }
        let client = try RawClient(port: server.port)
        var small: Int32 = 16 << 10
        setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        client.send((1...40).map { "GET /\($0) HTTP/1.1\r\nHost: a\r\n\r\n" }.joined())
        Thread.sleep(forTimeInterval: 1)
        let answered = handled.withLock { $0 }
        // The kernel's socket buffers take a few responses; the cap stops the rest.
        XCTAssertLessThan(answered, 20, "requests answered while the client read nothing")
        XCTAssertGreaterThan(server.server.bufferedBodyBytes, 0, "unsent responses are not in the budget")
        XCTAssertLessThanOrEqual(server.server.bufferedBodyBytes, (4 << 20) + 2 * (1 << 20))
        // Reading resumes the pipeline: every response arrives, in order.
        let responses = client.readResponses(40)
        XCTAssertEqual(responses.count, 40)
        XCTAssertEqual(handled.withLock { $0 }, 40)
        let deadline = Date().addingTimeInterval(5)
        while server.server.bufferedBodyBytes > 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertEqual(server.server.bufferedBodyBytes, 0)
    }

    /// An h2c upgrade whose HTTP2-Settings cannot be a SETTINGS payload gets a 400, not a silent close;
    /// a valid one still switches protocols.
    func testMalformedH2CSettingsGet400() throws {
        let server = try TestServer(handler: Self.slowOrEcho)
        let upgrade = "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
        for settings in ["AAMAAABk!", "AAMAAAB", "AAIAAAAC", "AAUAAAAA"] {  // bad base64, 5 bytes, ENABLE_PUSH 2, tiny frame
            let client = try RawClient(port: server.port)
            client.send(upgrade + "HTTP2-Settings: \(settings)\r\n\r\n")
            XCTAssertEqual(client.readResponses(1).first?.status, 400, settings)
        }
        let twice = try RawClient(port: server.port)
        twice.send(upgrade + "HTTP2-Settings: AAMAAABk\r\nHTTP2-Settings: AAMAAABk\r\n\r\n")
        XCTAssertEqual(twice.readResponses(1).first?.status, 400)
        let valid = try RawClient(port: server.port)
        valid.send(upgrade + "HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
        XCTAssertEqual(valid.readResponses(1).first?.status, 101)
    }

    func testHandlerCanCloseTheConnection() throws {
        let server = try TestServer { _ in } handler: { _, responder in
            responder.respond(HTTPResponse(status: 200, headers: HTTPHeaders([("Connection", "close")]), body: Array("bye".utf8)))
        }
        let client = try RawClient(port: server.port)
        client.send("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n")
        let reply = client.readToEnd()
        XCTAssertTrue(reply.contains("connection: close\r\n"), reply)
        XCTAssertEqual(reply.components(separatedBy: "HTTP/1.1 200").count, 2, "the second request is not served")
    }

    func testExpectContinueIsAnsweredBeforeTheBodyAndRefusedWhenTooBig() throws {
        let server = try TestServer { $0.limits.maxBodyBytes = 100 }
        let client = try RawClient(port: server.port)
        client.send("POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        let interim = client.readResponses(1)
        XCTAssertEqual(interim.first?.status, 100)
        client.send("hello")
        XCTAssertEqual(client.readResponses(1).first?.body, "hello")

        let refused = try RawClient(port: server.port)
        refused.send("POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 500\r\n\r\n")
        XCTAssertTrue(refused.readToEnd().hasPrefix("HTTP/1.1 413 "), "413 instead of 100 Continue")
    }

    func testSlowHeadGets408AndSlowBodyGets408() throws {
        let server = try TestServer {
            $0.timeouts.head = .milliseconds(400)
            $0.timeouts.body = .milliseconds(400)
        }
        let head = try RawClient(port: server.port)
        head.send("GET / HTTP/1.1\r\nHost: a\r\n")
        let started = Date()
        XCTAssertTrue(head.readToEnd().hasPrefix("HTTP/1.1 408 "))
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)

        let body = try RawClient(port: server.port)
        body.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
        XCTAssertTrue(body.readToEnd().hasPrefix("HTTP/1.1 408 "))
    }

    func testIdleKeepAliveConnectionIsClosed() throws {
        let server = try TestServer { $0.timeouts.idle = .milliseconds(400) }
        let client = try RawClient(port: server.port)
        client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual(client.readResponses(1).first?.status, 200)
        let started = Date()
        XCTAssertTrue(client.isClosedByPeer())
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)
    }

    func testSlowReaderHitsTheWriteTimeout() throws {
        let server = try TestServer { $0.timeouts.write = .milliseconds(400) } handler: { _, responder in
            responder.respond(HTTPResponse(status: 200, body: [UInt8](repeating: 0x61, count: 64 << 20)))
        }
        let client = try RawClient(port: server.port)
        client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        // Never read: the server must give up on this connection.
        let deadline = Date().addingTimeInterval(5)
        while server.server.connectionCount > 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertEqual(server.server.connectionCount, 0)
    }

    func testConnectionLimitLeavesNewConnectionsInTheBacklog() throws {
        let server = try TestServer { $0.limits.maxConnections = 2 }
        let first = try RawClient(port: server.port)
        let second = try RawClient(port: server.port)
        first.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        second.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual(first.readResponses(1).first?.status, 200)
        XCTAssertEqual(second.readResponses(1).first?.status, 200)

        let third = try RawClient(port: server.port)
        third.send("GET /third HTTP/1.1\r\nHost: a\r\n\r\n")
        var timeout = timeval(tv_sec: 0, tv_usec: 500_000)
        setsockopt(third.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        XCTAssertTrue(third.readResponses(1).isEmpty, "not served while two connections are open")
        XCTAssertEqual(server.server.connectionCount, 2)

        close(first.fd)
        timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(third.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        XCTAssertEqual(third.readResponses(1).first?.headers["x-path"], "/third")
    }

    /// Slowloris above the connection limit: connections that never finish a request head used to hold every
    /// slot until their head timeout (10 s), and a health check waited in the backlog all that time.
    func testAHealthCheckGetsThroughASlowlorisAtTheConnectionLimit() throws {
        let server = try TestServer { $0.limits.maxConnections = 4 }
        let slow = try (0..<6).map { _ in try RawClient(port: server.port) }
        for client in slow { client.send("GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ") }
        Thread.sleep(forTimeInterval: 1.2)
        XCTAssertEqual(server.server.connectionCount, 4)
        let started = Date()
        let health = try RawClient(port: server.port)
        health.send("GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual(health.readResponses(1).first?.headers["x-path"], "/health")
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.5)
        XCTAssertLessThanOrEqual(server.server.connectionCount, 4)
        // The one closed for it was a slowloris connection, the oldest; a busy connection is never evicted.
        XCTAssertTrue(slow[0].isClosedByPeer())
    }

    func testClientDisconnectCancelsThePendingRequest() throws {
        let cancelled = expectation(description: "onCancel")
        let box = ResponderBox()
        let server = try TestServer { _ in } handler: { _, responder in
            box.responder = responder
            responder.onCancel { cancelled.fulfill() }
        }
        var client: RawClient? = try RawClient(port: server.port)
        client?.send("GET /wait HTTP/1.1\r\nHost: a\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertEqual(box.responder?.isCancelled, false)
        client = nil
        wait(for: [cancelled], timeout: 5)
        XCTAssertEqual(box.responder?.isCancelled, true)
        // A late answer to a cancelled request is dropped without harm.
        box.responder?.respond(HTTPResponse(status: 200))
    }

    func testPeerResetDuringALargeWriteDoesNotKillTheProcess() throws {
        let server = try TestServer { _ in } handler: { _, responder in
            responder.respond(HTTPResponse(status: 200, body: [UInt8](repeating: 0x62, count: 8 << 20)))
        }
        for _ in 0..<3 {
            let client = try RawClient(port: server.port)
            client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            var linger = linger(l_onoff: 1, l_linger: 0)
            setsockopt(client.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))
        }
        Thread.sleep(forTimeInterval: 0.3)
        let client = try RawClient(port: server.port)
        client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual(client.readResponses(1).first?.body.count, 8 << 20)
    }

    func testShutdownDrainsInFlightRequestsThenRefusesConnections() throws {
        let server = try TestServer(handler: Self.slowOrEcho)
        let client = try RawClient(port: server.port)
        client.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.1)
        server.server.shutdown(drainTimeout: .seconds(5))
        let reply = client.readToEnd()
        XCTAssertTrue(reply.hasPrefix("HTTP/1.1 200 "), reply)
        XCTAssertTrue(reply.contains("connection: close\r\n"))
        XCTAssertTrue(reply.hasSuffix("slow"))
        XCTAssertThrowsError(try RawClient(port: server.port), "listener closed")
    }

    func testShutdownDrainTimeoutCancelsWhatIsLeft() throws {
        let cancelled = expectation(description: "onCancel")
        let server = try TestServer { _ in } handler: { _, responder in
            responder.onCancel { cancelled.fulfill() }
        }
        let client = try RawClient(port: server.port)
        client.send("GET /never HTTP/1.1\r\nHost: a\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.1)
        let started = Date()
        server.server.shutdown(drainTimeout: .milliseconds(300))
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)
        wait(for: [cancelled], timeout: 2)
        XCTAssertEqual(server.server.connectionCount, 0)
    }
}

private final class ResponderBox: @unchecked Sendable {
    var responder: HTTPResponder?
}
