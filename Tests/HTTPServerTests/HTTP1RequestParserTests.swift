import XCTest
@testable import HTTPServer

/// The parser on its own: framing per RFC 9112, and identical results however the input is split.
final class HTTP1RequestParserTests: XCTestCase {
    enum Outcome: Equatable {
        case requests([HTTP1RequestParser.Event])
        case error(Int, [HTTP1RequestParser.Event])
    }

    /// Feeds `input` in pieces of the given sizes (the rest at once), collecting events until an error.
    static func run(_ input: [UInt8], pieces: [Int] = [], limits: HTTPServerConfiguration.Limits = .init()) -> Outcome {
        var parser = HTTP1RequestParser(limits: limits)
        var buffer: [UInt8] = []
        var events: [HTTP1RequestParser.Event] = []
        var fed = 0
        var sizes = pieces[...]
        while fed < input.count {
            let size = sizes.popFirst() ?? input.count
            let end = min(input.count, fed + max(1, size))
            buffer.append(contentsOf: input[fed..<end])
            fed = end
            while true {
                do {
                    let (event, consumed) = try buffer.withUnsafeBufferPointer { (b) throws(HTTPError) in try parser.parse(b) }
                    buffer.removeFirst(consumed)
                    guard let event else { break }
                    events.append(event)
                } catch {
                    return .error(error.status, events)
                }
            }
        }
        return .requests(events)
    }

    private func bodies(_ outcome: Outcome) -> [String] {
        guard case .requests(let events) = outcome else { return [] }
        return events.compactMap { if case .end(let body) = $0 { return String(decoding: body, as: UTF8.self) } else { return nil } }
    }

    func testSimpleGetProducesHeadThenEmptyBody() {
        let outcome = Self.run(Array("GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-Y:  z \r\n\r\n".utf8))
        guard case .requests(let events) = outcome, events.count == 2, case .head(let head) = events[0] else {
            return XCTFail("\(outcome)")
        }
        XCTAssertEqual(head.method, "GET")
        XCTAssertEqual(head.target, "/a?b=1")
        XCTAssertEqual(head.version, .http1_1)
        XCTAssertEqual(head.headers["x-y"], "z", "OWS around the value is not part of it")
        XCTAssertEqual(head.framing, .none)
        XCTAssertTrue(head.keepAlive)
        XCTAssertEqual(events[1], .end([]))
    }

    func testChunkedBodyWithExtensionsAndTrailers() {
        let input = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "4;name=value\r\nWiki\r\n5 ; x\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\n"
        XCTAssertEqual(bodies(Self.run(Array(input.utf8))), ["Wikipedia in\r\n\r\nchunks."])
    }

    func testBareLFLineEndingsAndLeadingEmptyLinesAreAccepted() {
        let outcome = Self.run(Array("\r\n\nPOST / HTTP/1.1\nHost: x\nContent-Length: 2\n\nhi".utf8))
        XCTAssertEqual(bodies(outcome), ["hi"])
    }

    func testPipelinedRequestsComeOutInOrder() {
        let input = "POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na"
            + "POST /2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nb\r\n0\r\n\r\n"
            + "GET /3 HTTP/1.0\r\n\r\n"
        XCTAssertEqual(bodies(Self.run(Array(input.utf8))), ["a", "b", ""])
    }

    func testConnectionSemanticsPerVersion() throws {
        func head(_ text: String) throws -> HTTP1RequestHead {
            guard case .requests(let events) = Self.run(Array(text.utf8)), case .head(let head) = events.first else {
                throw HTTPError(0, "request did not parse")
            }
            return head
        }
        XCTAssertFalse(try head("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").keepAlive)
        XCTAssertFalse(try head("GET / HTTP/1.0\r\n\r\n").keepAlive)
        XCTAssertTrue(try head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keepAlive)
        XCTAssertTrue(try head("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n").expectContinue)
    }

    func testTargetsSplitIntoPathAndQuery() {
        XCTAssertEqual(HTTPRequest.split(target: "/a/b?c=d&e").path, "/a/b")
        XCTAssertEqual(HTTPRequest.split(target: "/a/b?c=d&e").query, "c=d&e")
        XCTAssertEqual(HTTPRequest.split(target: "http://example.com:80/x?y").path, "/x")
        XCTAssertEqual(HTTPRequest.split(target: "http://example.com:80/x?y").query, "y")
        XCTAssertEqual(HTTPRequest.split(target: "http://example.com").path, "/")
    }

    func testByteAtATimeEqualsWhole() {
        let input = Array(("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
            + "GET /y HTTP/1.1\r\nHost: x\r\n\r\n").utf8)
        XCTAssertEqual(Self.run(input, pieces: Array(repeating: 1, count: input.count)), Self.run(input))
    }

    func testSlowHeadIsScannedIncrementallyAndLimited() {
        var limits = HTTPServerConfiguration.Limits()
        limits.maxHeaderBytes = 100
        let input = Array(("GET / HTTP/1.1\r\nHost: x\r\nX: " + String(repeating: "a", count: 200)).utf8)
        XCTAssertEqual(Self.run(input, pieces: Array(repeating: 1, count: input.count), limits: limits), .error(431, []))
    }
}
