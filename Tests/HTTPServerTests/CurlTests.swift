import Dispatch
import Foundation
import HTTPServer
import XCTest

/// curl and nghttp (nghttp2-client) as independent clients: HTTP/1.1, HTTP/1.0, HEAD, absolute-form,
/// chunked uploads, Expect: 100-continue, gzip both ways, h2c by prior knowledge and by upgrade.
final class CurlTests: XCTestCase {
    private var server: TestServer!
    private var curl: ExternalTool!

    override func setUpWithError() throws {
        server = try TestServer()
        curl = try XCTUnwrap(ExternalTool.find("curl"))
    }

    override func tearDown() {
        server = nil
    }

    /// Runs curl with `-s -D -` (headers on stdout) plus the arguments.
    private func curl(_ arguments: [String]) -> String {
        let (status, output) = curl.run(["-s", "-S", "-D", "-", "--max-time", "20"] + arguments)
        XCTAssertEqual(status, 0, output)
        return output
    }

    func testHTTP11GetWithQuery() {
        let output = curl(["\(server.url)/a/b?c=d"])
        XCTAssertTrue(output.hasPrefix("HTTP/1.1 200 OK\r\n"), output)
        XCTAssertTrue(output.contains("x-path: /a/b\r\n"))
        XCTAssertTrue(output.contains("x-query: c=d\r\n"))
        XCTAssertTrue(output.hasSuffix("\r\n\r\nhello\n"))
    }

    func testHTTP10AndHeadAndAbsoluteForm() {
        let old = curl(["--http1.0", "\(server.url)/old"])
        XCTAssertTrue(old.contains("x-version: HTTP/1.0\r\n"), old)
        XCTAssertTrue(old.contains("connection: close\r\n"), old)

        let head = curl(["-I", "\(server.url)/head"])
        XCTAssertTrue(head.contains("x-method: HEAD\r\n"))
        XCTAssertTrue(head.contains("content-length: 6\r\n"), "HEAD announces the GET length")

        let absolute = curl(["--request-target", "http://example.test/abs?q=1", "\(server.url)/"])
        XCTAssertTrue(absolute.contains("x-path: /abs\r\n"), absolute)
        XCTAssertTrue(absolute.contains("x-query: q=1\r\n"))
    }

    func testKeepAliveReusesOneConnection() {
        let (_, output) = curl.run(["-s", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{num_connects} ",
                                    "\(server.url)/1", "\(server.url)/2", "\(server.url)/3"])
        XCTAssertEqual(output, "1 0 0 ")
    }

    func testChunkedUploadAndExpectContinue() throws {
        let text = try String(contentsOf: fixturesDirectory.appendingPathComponent("text.txt"), encoding: .utf8)
        let chunked = curl(["-H", "Transfer-Encoding: chunked", "--data-binary",
                            "@\(fixturesDirectory.appendingPathComponent("text.txt").path)", "\(server.url)/up"])
        XCTAssertTrue(chunked.hasSuffix(text), "chunked body echoed back")

        let (status, verbose) = curl.run(["-s", "-v", "-H", "Expect: 100-continue", "--data-binary", "abc",
                                          "\(server.url)/expect"])
        XCTAssertEqual(status, 0)
        XCTAssertTrue(verbose.contains("< HTTP/1.1 100 Continue"), verbose)
        XCTAssertTrue(verbose.hasSuffix("abc"))
    }

    func testGzipRequestBodyAndCompressedResponse() throws {
        let gz = fixturesDirectory.appendingPathComponent("text.gz").path
        let text = try Data(contentsOf: fixturesDirectory.appendingPathComponent("text.txt"))
        let upload = curl(["-H", "Content-Encoding: gzip", "--data-binary", "@\(gz)", "\(server.url)/gz"])
        XCTAssertTrue(upload.contains("x-body-length: \(text.count)\r\n"), upload)

        let compressed = curl(["--compressed", "\(server.url)/big"])
        XCTAssertTrue(compressed.contains("content-encoding: gzip\r\n"))
        XCTAssertTrue(compressed.hasSuffix(String(repeating: "0123456789abcdef", count: 4096)), "curl decoded gzip")
        let plain = curl(["\(server.url)/big"])
        XCTAssertFalse(plain.contains("content-encoding"), "no gzip unless accepted")
    }

    func testHTTP2PriorKnowledgeAndUpgrade() {
        // One URL per run: curl 7.88.1 sends nothing on a reused prior-knowledge connection (nginx too).
        let (_, prior) = curl.run(["-s", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
                                   "\(server.url)/1"])
        XCTAssertEqual(prior, "2 200")
        let posted = curl(["--http2-prior-knowledge", "--data-binary", "h2 body", "\(server.url)/p"])
        XCTAssertTrue(posted.hasPrefix("HTTP/2 200"), posted)
        XCTAssertTrue(posted.hasSuffix("h2 body"))

        let upgraded = curl(["--http2", "\(server.url)/up?x"])
        XCTAssertTrue(upgraded.hasPrefix("HTTP/1.1 101 Switching Protocols"), upgraded)
        XCTAssertTrue(upgraded.contains("HTTP/2 200"))
        XCTAssertTrue(upgraded.contains("x-query: x\r\n"))
        XCTAssertTrue(upgraded.hasSuffix("hello\n"))

        let compressed = curl(["--http2-prior-knowledge", "--compressed", "\(server.url)/big"])
        XCTAssertTrue(compressed.contains("content-encoding: gzip"))
        XCTAssertTrue(compressed.hasSuffix(String(repeating: "0123456789abcdef", count: 4096)))
    }

    func testHTTP2GzipBodyAndLimits() throws {
        let text = fixturesDirectory.appendingPathComponent("text.txt").path
        let gz = fixturesDirectory.appendingPathComponent("text.gz").path
        let decoded = curl(["--http2-prior-knowledge", "-H", "Content-Encoding: gzip", "--data-binary", "@\(gz)", "\(server.url)/gz"])
        XCTAssertTrue(decoded.contains("x-body-length: 10690\r\n"), decoded)

        let limited = try TestServer {
            $0.limits.maxBodyBytes = 1000
            $0.limits.maxHeaderBytes = 4096
        }
        let tooBig = curl(["--http2-prior-knowledge", "--data-binary", "@\(text)", "\(limited.url)/big-body"])
        XCTAssertTrue(tooBig.hasPrefix("HTTP/2 413"), tooBig)
        let tooManyHeaders = curl(["--http2-prior-knowledge", "-H", "X-Large: \(String(repeating: "v", count: 5000))", "\(limited.url)/"])
        XCTAssertTrue(tooManyHeaders.hasPrefix("HTTP/2 431"), tooManyHeaders)
    }

    func testRespondersAreReleasedAfterTheExchange() throws {
        let released = WeakResponders()
        let server = try TestServer { _ in } handler: { request, responder in
            released.add(responder)
            DispatchQueue.global().async { responder.respond(HTTPResponse(status: 200, body: "ok")) }
        }
        _ = curl(["--http2-prior-knowledge", "\(server.url)/h2"])
        _ = curl(["--http2", "\(server.url)/upgrade"])
        _ = curl(["\(server.url)/h1"])
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertEqual(released.count, 3)
        XCTAssertEqual(released.alive, 0, "no reference cycle keeps a finished exchange alive")
    }

    func testNghttpSeesGoawayOnShutdownAndGetsInFlightResponse() throws {
        let slow = try TestServer { _ in } handler: { request, responder in
            DispatchQueue.global().asyncAfter(deadline: .now() + 1) {
                responder.respond(HTTPResponse(status: 200, body: "late"))
            }
        }
        let nghttp = try XCTUnwrap(ExternalTool.find("nghttp"))
        let url = "\(slow.url)/slow"
        let group = DispatchGroup()
        nonisolated(unsafe) var output = ""
        DispatchQueue.global().async(group: group) {
            output = nghttp.run(["-v", url], timeout: 20).output
        }
        Thread.sleep(forTimeInterval: 0.5)
        slow.server.shutdown(drainTimeout: .seconds(5))
        XCTAssertEqual(group.wait(timeout: .now() + 20), .success)
        XCTAssertTrue(output.contains("recv GOAWAY"), output)
        XCTAssertTrue(output.contains("error_code=NO_ERROR"))
        XCTAssertTrue(output.contains(":status: 200"))
        XCTAssertTrue(output.contains("late"))
    }
}

private final class WeakResponders: @unchecked Sendable {
    private struct Weak { weak var responder: HTTPResponder? }
    private let lock = NSLock()
    private var entries: [Weak] = []

    func add(_ responder: HTTPResponder) {
        lock.lock()
        entries.append(Weak(responder: responder))
        lock.unlock()
    }

    var count: Int { lock.lock(); defer { lock.unlock() }; return entries.count }
    var alive: Int { lock.lock(); defer { lock.unlock() }; return entries.filter { $0.responder != nil }.count }
}
