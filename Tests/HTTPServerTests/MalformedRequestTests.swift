import XCTest
@testable import HTTPServer

/// Every malformed or over-limit HTTP/1.1 input over a real socket: the status RFC 9112 / 9110 call
/// for, then a clean close.
final class MalformedRequestTests: XCTestCase {
    private var server: TestServer!

    override func setUpWithError() throws {
        server = try TestServer { configuration in
            configuration.limits.maxURILength = 256
            configuration.limits.maxHeaderBytes = 2048
            configuration.limits.maxHeaderCount = 20
            configuration.limits.maxBodyBytes = 1000
            configuration.limits.maxDecodedBodyBytes = 4000
        }
    }

    override func tearDown() {
        server = nil
    }

    private func assertRejected(_ request: String, _ status: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        try assertRejected(Array(request.utf8), status, file: file, line: line)
    }

    private func assertRejected(_ request: [UInt8], _ status: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let client = try RawClient(port: server.port)
        client.send(request)
        let reply = client.readToEnd()
        XCTAssertTrue(reply.hasPrefix("HTTP/1.1 \(status) "), "expected \(status), got: \(reply.prefix(80))", file: file, line: line)
        XCTAssertTrue(reply.lowercased().contains("connection: close"), file: file, line: line)
    }

    func testContentLengthWithTransferEncodingIsRejected() throws {
        try assertRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400)
    }

    func testDifferingDuplicateContentLengthsAreRejected() throws {
        try assertRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400)
        try assertRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\nabcd", 400)
    }

    func testIdenticalDuplicateContentLengthsAreAccepted() throws {
        let client = try RawClient(port: server.port)
        client.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc")
        let responses = client.readResponses(1)
        XCTAssertEqual(responses.first?.status, 200)
        XCTAssertEqual(responses.first?.body, "abc")
    }

    func testInvalidContentLengthIsRejected() throws {
        try assertRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", 400)
        try assertRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\nabc", 400)
    }

    func testBadChunkSizesAreRejected() throws {
        try assertRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400)
        try assertRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nabc\r\n0\r\n\r\n", 400)
        try assertRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000003\r\nabc\r\n0\r\n\r\n", 400)
        // Chunk data longer than its size: the bytes after it are not CRLF.
        try assertRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", 400)
    }

    /// RFC 9112 section 7.1: chunk lines end in CRLF and extensions are tokens or quoted strings. A parser
    /// that accepts a bare LF or junk here can disagree with a proxy about where the body ends.
    func testChunkFramingIsStrict() throws {
        let head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        try assertRejected(head + "3\nabc\r\n0\r\n\r\n", 400)  // bare LF after the size
        try assertRejected(head + "3\r\nabc\n0\r\n\r\n", 400)  // bare LF after the data
        try assertRejected(head + "3\r\nabc\r\n0\n\r\n", 400)  // bare LF after the last size
        try assertRejected(head + "3\r\nabc\r\n0\r\nT: v\n\r\n", 400)  // bare LF in the trailers
        try assertRejected(head + "3;\u{0}\u{0}\r\nabc\r\n0\r\n\r\n", 400)  // NULs in an extension
        try assertRejected(head + "3;a=\"x\r\nabc\r\n0\r\n\r\n", 400)  // unclosed quoted string
        try assertRejected(head + "3;=v\r\nabc\r\n0\r\n\r\n", 400)  // no extension name
        try assertRejected(head + "3;a b\r\nabc\r\n0\r\n\r\n", 400)  // two tokens
    }

    func testWellFormedChunkExtensionsAreIgnored() {
        let head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        for extensions in [";a", " ; a = b", ";a=\"q \\\" d\";b;c=d", "\t;x=y\t"] {
            let input = Array((head + "3\(extensions)\r\nabc\r\n0\r\n\r\n").utf8)
            guard case .requests(let events) = HTTP1RequestParserTests.run(input) else {
                return XCTFail("refused \(extensions)")
            }
            XCTAssertEqual(events.count, 2, extensions)
        }
    }

    /// The inputs libFuzzer once found (Scripts/fuzz/http1_parser.sh): a bare LF after chunk data, and NULs
    /// in a chunk extension. Both are now refused, the same way whatever the read boundaries.
    func testFuzzerFindingsAreRefusedAlikeAtEverySplit() {
        let findings: [[UInt8]] = [
            Array("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n7;a=bQSetQQQ\r\nhell\r\n\nml.\n".utf8),
            Array("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;".utf8) + [UInt8](repeating: 0, count: 9)
                + Array("Qlo\r\n0\r\nT: v\r\n\r\n".utf8),
        ]
        for input in findings {
            let whole = HTTP1RequestParserTests.run(input)
            guard case .error(400, _) = whole else { return XCTFail("\(whole)") }
            for split in 0...input.count {
                XCTAssertEqual(HTTP1RequestParserTests.run(input, pieces: [split, input.count]), whole, "split at \(split)")
            }
        }
    }

    func testUnknownTransferCodingIs501AndNonFinalChunkedIs400() throws {
        try assertRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501)
        try assertRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400)
    }

    func testObsoleteLineFoldingIsRejected() throws {
        try assertRejected("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400)
    }

    func testWhitespaceBeforeColonIsRejected() throws {
        try assertRejected("GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 0\r\n\r\n", 400)
    }

    func testBareCRIsRejected() throws {
        try assertRejected("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n", 400)
        try assertRejected("GET / HTTP/1.1\rHost: a\r\n\r\n", 400)
    }

    func testMissingOrDuplicateHostIsRejected() throws {
        try assertRejected("GET / HTTP/1.1\r\n\r\n", 400)
        try assertRejected("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400)
    }

    func testMalformedRequestLineIsRejected() throws {
        try assertRejected("GET /\r\n\r\n", 400)
        try assertRejected("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400)
        try assertRejected("GET / HTTX/1.1\r\nHost: a\r\n\r\n", 400)
    }

    func testUnsupportedVersionIs505() throws {
        try assertRejected("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505)
        try assertRejected("GET / HTTP/3.1\r\nHost: a\r\n\r\n", 505)
    }

    func testLongURIIs414() throws {
        try assertRejected("GET /\(String(repeating: "a", count: 300)) HTTP/1.1\r\nHost: a\r\n\r\n", 414)
        // Also while the request line is still arriving.
        try assertRejected("GET /\(String(repeating: "a", count: 3000))", 414)
    }

    func testTooManyOrTooLargeHeadersAre431() throws {
        let many = (0..<25).map { "X-\($0): v\r\n" }.joined()
        try assertRejected("GET / HTTP/1.1\r\nHost: a\r\n\(many)\r\n", 431)
        try assertRejected("GET / HTTP/1.1\r\nHost: a\r\nX-Big: \(String(repeating: "v", count: 3000))\r\n\r\n", 431)
    }

    func testBodyOverLimitIs413() throws {
        try assertRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n", 413)
        let chunk = String(repeating: "x", count: 600)
        try assertRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n\(chunk)\r\n258\r\n\(chunk)\r\n0\r\n\r\n", 413)
    }

    func testUnsupportedExpectationIs417() throws {
        try assertRejected("POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\na", 417)
    }

    func testTransferEncodingInHTTP10IsRejected() throws {
        try assertRejected("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400)
    }

    func testDecompressionBombIs413() throws {
        // 100 000 zero bytes gzip-compressed by Python's gzip module (Scripts/fixtures/http_fixtures.py).
        let bomb = try [UInt8](Data(contentsOf: fixturesDirectory.appendingPathComponent("zeros-100000.gz")))
        XCTAssertLessThan(bomb.count, 1000)
        try assertRejected(Array("POST / HTTP/1.1\r\nHost: a\r\nContent-Encoding: gzip\r\nContent-Length: \(bomb.count)\r\n\r\n".utf8) + bomb, 413)
    }

    func testCorruptGzipBodyIs400AndUnknownCodingIs415() throws {
        try assertRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello", 400)
        try assertRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Encoding: br\r\nContent-Length: 5\r\n\r\nhello", 415)
    }

    func testPipelinedRequestAfterSmugglingAttemptIsNotServed() throws {
        // Classic CL.TE smuggling: a second request hidden in the body must never be answered.
        let client = try RawClient(port: server.port)
        client.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n")
        let reply = client.readToEnd()
        XCTAssertTrue(reply.hasPrefix("HTTP/1.1 400 "))
        XCTAssertFalse(reply.contains("/smuggled"))
        XCTAssertEqual(reply.components(separatedBy: "HTTP/1.1 ").count, 2, "exactly one response")
    }
}
