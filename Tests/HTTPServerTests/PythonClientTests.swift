import Dispatch
import Foundation
import HTTPServer
import XCTest

/// Python clients (httpx for HTTP/1.1, the h2 library for HTTP/2) against the server.
final class PythonClientTests: XCTestCase {
    private let script = fixturesDirectory.appendingPathComponent("clients.py").path

    private func run(_ mode: String, _ target: String, file: StaticString = #filePath, line: UInt = #line) -> [String: Any] {
        guard let python = ExternalTool.python(file: file, line: line) else { return [:] }
        let (status, output) = python.run([script, mode, target], timeout: 60)
        XCTAssertEqual(status, 0, output, file: file, line: line)
        guard let last = output.split(separator: "\n").last,
              let object = try? JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any] else {
            XCTFail("no JSON from clients.py \(mode): \(output)", file: file, line: line)
            return [:]
        }
        return object
    }

    func testHTTPXKeepAliveJSONGzipAndHead() throws {
        let server = try TestServer()
        let result = run("httpx", server.url)
        XCTAssertEqual(result["get"] as? [AnyHashable], [200, "HTTP/1.1", "/path", "x=1", "hello\n"])
        let post = result["post"] as? [Any]
        XCTAssertEqual(post?.first as? Int, 200)
        let echoed = (post?.last as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        XCTAssertEqual(echoed?["query"] as? String, "q")
        XCTAssertEqual(echoed?["texts"] as? [String], ["a", "b"])
        XCTAssertEqual(result["big"] as? [AnyHashable], [200, "gzip", 65536, "0123456789abcdef"])
        // HEAD: the headers a GET would get (gzip-encoded length included), no body.
        let head = result["head"] as? [Any]
        XCTAssertEqual(head?.first as? Int, 200)
        XCTAssertNotNil(head?[1] as? String)
        XCTAssertEqual(head?.last as? Int, 0)
    }

    func testH2ConcurrentStreamsFlowControlAndSettings() throws {
        let server = try TestServer { $0.limits.maxConcurrentStreams = 64 }
        let result = run("concurrent", String(server.port))
        XCTAssertEqual(result["ok"] as? Int, 50)
        XCTAssertEqual(result["big"] as? Int, 65536)
        XCTAssertEqual(result["max_streams"] as? Int, 64)
    }

    func testH2RapidResetEndsInGoaway() throws {
        let server = try TestServer()
        let result = run("rapid-reset", String(server.port))
        let goaway = result["goaway"] as? [Int]
        XCTAssertNotNil(goaway, "a rapid-reset flood must get GOAWAY: \(result)")
        XCTAssertNotEqual(goaway?.first, 0, "an error code, not a graceful NO_ERROR")
        // The server is still serving others.
        let client = try RawClient(port: server.port)
        client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual(client.readResponses(1).first?.status, 200)
    }

    func testH2HeaderFloodIsRefusedAndConnectionSurvives() throws {
        let server = try TestServer { $0.limits.maxHeaderBytes = 8192 }
        let result = run("header-flood", String(server.port))
        XCTAssertEqual(result["status"] as? String, "431", "\(result)")
        XCTAssertEqual(result["after"] as? String, "200", "\(result)")
    }

    func testH2SlowRequestBodyTimesOut() throws {
        let server = try TestServer { $0.timeouts.body = .milliseconds(400) }
        let result = run("slow-body", String(server.port))
        XCTAssertNotNil(result["goaway"] as? [Int], "\(result)")
        XCTAssertLessThan(result["seconds"] as? Double ?? 99, 5)
    }

    /// A client that never opens its flow-control window cannot pin response bodies: the connection is
    /// closed after the write timeout.
    func testH2ZeroWindowIsTimedOut() throws {
        let server = try TestServer { $0.timeouts.write = .milliseconds(500) }
        let result = run("zero-window", String(server.port))
        XCTAssertTrue(result["goaway"] is [Int] || result["closed"] as? Bool == true, "\(result)")
        XCTAssertLessThan(result["seconds"] as? Double ?? 99, 5, "\(result)")
        XCTAssertGreaterThanOrEqual(result["seconds"] as? Double ?? 0, 0.4, "closed before the timeout: \(result)")
        XCTAssertEqual(server.server.bufferedBodyBytes, 0)
    }

    /// Streams that hold request bodies open count against the connection's budget; beyond it new
    /// bodies get 503, and the bytes are returned when the connection goes.
    func testH2HeldBodiesAreBoundedPerConnection() throws {
        let server = try TestServer { $0.limits.maxConnectionBodyBytes = 1_000_000 }
        let result = run("held-bodies", String(server.port))
        XCTAssertEqual(result["streams"] as? Int, 40, "\(result)")
        // 1 MB holds 10 bodies of 100 kB; the 11th is the first refused.
        XCTAssertEqual(result["first_refused"] as? Int, 10, "\(result)")
        XCTAssertEqual(result["refused"] as? Int, 30, "\(result)")
        let deadline = Date().addingTimeInterval(5)
        while server.server.bufferedBodyBytes > 0, Date() < deadline { usleep(20_000) }
        XCTAssertEqual(server.server.bufferedBodyBytes, 0)
    }

    /// PINGs are not request progress: a body that stops arriving times out whatever else the client sends.
    func testH2PingsDoNotKeepAStalledBodyAlive() throws {
        let server = try TestServer { $0.timeouts.body = .milliseconds(500) }
        let result = run("ping-keeps-body", String(server.port))
        XCTAssertTrue(result["goaway"] is [Int] || result["closed"] as? Bool == true, "\(result)")
        XCTAssertLessThan(result["seconds"] as? Double ?? 99, 5, "\(result)")
        XCTAssertGreaterThanOrEqual(result["seconds"] as? Double ?? 0, 0.4, "closed before the timeout: \(result)")
    }

    /// The body timeout is per stream: a stalled body is reset on its own, another still moving completes.
    func testH2StalledStreamIsResetAlone() throws {
        let server = try TestServer { $0.timeouts.body = .milliseconds(600) }
        let result = run("one-stalled-stream", String(server.port))
        XCTAssertEqual(result["stalled_reset"] as? Int, 8, "RST_STREAM CANCEL: \(result)")
        XCTAssertEqual(result["moving_status"] as? String, "200", "\(result)")
        XCTAssertTrue(result["goaway"] is NSNull || result["goaway"] == nil, "\(result)")
    }

    /// A request reset in the same read as its end never reaches the handler (rapid reset costs no work).
    func testH2RequestsResetInTheSameReadAreNotRun() throws {
        nonisolated(unsafe) var counted = 0
        let lock = NSLock()
        let server = try TestServer { _ in } handler: { request, responder in
            if request.path == "/counted" { lock.lock(); counted += 1; lock.unlock() }
            TestServer.echo(request, responder)
        }
        let result = run("reset-in-same-read", String(server.port))
        XCTAssertEqual(result["after"] as? String, "200", "\(result)")
        lock.lock(); defer { lock.unlock() }
        XCTAssertEqual(counted, 0)
    }

    func testH2StreamResetCancelsTheHandler() throws {
        let cancelled = expectation(description: "onCancel")
        let server = try TestServer { _ in } handler: { request, responder in
            guard request.path == "/never" else { return TestServer.echo(request, responder) }
            responder.onCancel { cancelled.fulfill() }
        }
        _ = run("reset-one", String(server.port))
        wait(for: [cancelled], timeout: 5)
    }
}
