import Foundation
import XCTest
@testable import RerankAPI

/// Every number a client sends is range-checked where it is parsed: a 422 that names the field, never a
/// trap in arithmetic on it (a trap ends the whole process, every client's requests with it).
final class ClientNumberTests: XCTestCase {
    static let server = Result { try LiveServer() }
    var server: LiveServer { get throws { try Self.server.get() } }

    func assertRefused(_ path: String, _ json: String, naming field: String, file: StaticString = #filePath,
                       line: UInt = #line) throws {
        let reply = try server.post(path, json: json)
        XCTAssertEqual(reply.status, 422, "\(json): \(reply.text)", file: file, line: line)
        let object = try XCTUnwrap(reply.json as? [String: Any], reply.text, file: file, line: line)
        let message = object["error"] as? String ?? ""
        XCTAssertTrue(message.contains(field), "\(json): \(message)", file: file, line: line)
        XCTAssertFalse(message.contains("not valid JSON"), "\(json): \(message)", file: file, line: line)
    }

    func testHugeMaxTokensPerDocIsRefusedAndTheServerLives() throws {
        for value in ["4611686018427387904", "9223372036854775807", "1000001", "1e30", "2.5", "-1", "0"] {
            try assertRefused("/v2/rerank", #"{"query":"q","documents":["a"],"max_tokens_per_doc":\#(value)}"#,
                              naming: "max_tokens_per_doc")
        }
        // The largest value accepted still scores (and cuts nothing).
        let reply = try server.post("/v2/rerank", json: #"{"query":"q","documents":["a b c"],"max_tokens_per_doc":1000000}"#)
        XCTAssertEqual(reply.status, 200, reply.text)
        XCTAssertEqual(try server.request("GET", "/health").status, 200)
    }

    func testTopNOutsideItsRangeNamesTheField() throws {
        for value in ["2.5", "1e30", "-1", "0", "9223372036854775808", "\"3\"", "true"] {
            try assertRefused("/v1/rerank", #"{"query":"q","documents":["a"],"top_n":\#(value)}"#, naming: "top_n")
        }
        // Larger than the document count is fine (Cohere's behaviour): every document comes back.
        let reply = try server.post("/v1/rerank", json: #"{"query":"q","documents":["a","b"],"top_n":9223372036854775807}"#)
        XCTAssertEqual(reply.status, 200, reply.text)
        XCTAssertEqual(((reply.json as? [String: Any])?["results"] as? [Any])?.count, 2)
    }

    func testOtherFieldsOfTheWrongTypeNameTheField() throws {
        try assertRefused("/rerank", #"{"query":"q","texts":["a"],"truncate":1}"#, naming: "truncate")
        try assertRefused("/rerank", #"{"query":"q","texts":["a"],"raw_scores":"yes"}"#, naming: "raw_scores")
        try assertRefused("/v2/rerank", #"{"query":"q","documents":["a"],"return_documents":2}"#,
                          naming: "return_documents")
    }

    /// `return_documents` echoes what the client sent, digit for digit: an id above 2^53 must not come back
    /// rounded through a double.
    func testEchoedNumbersKeepEveryDigit() throws {
        let json = #"{"query":"q","return_documents":true,"documents":[{"text":"a","id":1234567890123456789,"#
            + #""big":18446744073709551615,"neg":-9223372036854775808,"f":0.1,"e":1.5e300,"n":[1,2.25]}]}"#
        let reply = try server.post("/v2/rerank", json: json)
        XCTAssertEqual(reply.status, 200, reply.text)
        for fragment in [#""id":1234567890123456789"#, #""big":18446744073709551615"#,
                         #""neg":-9223372036854775808"#, #""f":0.1"#, #""n":[1,2.25]"#] {
            XCTAssertTrue(reply.text.contains(fragment), "\(fragment) in \(reply.text)")
        }
        let document = try XCTUnwrap(
            (((reply.json as? [String: Any])?["results"] as? [[String: Any]])?.first?["document"]) as? [String: Any])
        XCTAssertEqual((document["e"] as? NSNumber)?.doubleValue, 1.5e300)
    }
}
