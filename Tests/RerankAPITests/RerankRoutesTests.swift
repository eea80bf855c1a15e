import Foundation
import ParityFixtures
import Ranking
import T5
import XCTest
@testable import RerankAPI

final class RerankRoutesTests: XCTestCase {
    static let server = Result { try LiveServer() }
    var server: LiveServer { get throws { try Self.server.get() } }

    /// The random test model's instructdistill scores as transformers computed them: the independent side of each
    /// comparison (Tests/Fixtures/ranking/random_v4/expected_scores.jsonl).
    static let example = Result {
        try ParityFixtures.checkpoints()[0].examples.first { $0.template == "instructdistill" && $0.scores.count == 3 }!
    }
    var query: String { (try? Self.example.get().query) ?? "" }
    var documents: [String] { (try? Self.example.get().documents) ?? [] }

    func expectedProbabilities(template: PromptTemplate = .instructDistill) throws -> [Float] {
        try Self.example.get().scores.map { template.rule.probability(rawScore: Float($0)) }
    }

    func body(_ object: [String: Any]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    func testTEIRouteRanksWithSigmoidScores() throws {
        let reply = try server.post("/rerank", json: body(["query": query, "texts": documents, "return_text": true]))
        XCTAssertEqual(reply.status, 200, reply.text)
        let results = try XCTUnwrap(reply.json as? [[String: Any]])
        let expected = try expectedProbabilities()
        XCTAssertEqual(results.map { $0["index"] as! Int }, rankedIndices(expected, topN: nil))
        for result in results {
            let index = result["index"] as! Int
            XCTAssertEqual((result["score"] as! NSNumber).floatValue, expected[index], accuracy: 1e-4)
            XCTAssertEqual(result["text"] as? String, documents[index])
        }
        for header in ["x-total-time", "x-queue-time", "x-inference-time", "x-truncated-documents"] {
            XCTAssertNotNil(reply.headers[header], header)
        }
        let raw = try server.post("/rerank", json: body(["query": query, "texts": documents, "raw_scores": true]))
        let rawResults = try XCTUnwrap(raw.json as? [[String: Any]])
        let rawExpected = try Self.example.get().scores
        for result in rawResults {
            let want = rawExpected[result["index"] as! Int]
            XCTAssertEqual((result["score"] as! NSNumber).doubleValue, want, accuracy: 1e-4 * max(1, abs(want)))
            XCTAssertNil(result["text"])
        }
    }

    func testCohereV1TopNAndDocumentsAsObjects() throws {
        let reply = try server.post("/v1/rerank", json: body([
            "model": "rerank-english-v3.0", "query": query, "top_n": 2, "return_documents": true,
            "documents": [documents[0], ["text": documents[1], "id": 7], documents[2]],
        ]))
        XCTAssertEqual(reply.status, 200, reply.text)
        let object = try XCTUnwrap(reply.json as? [String: Any])
        let results = try XCTUnwrap(object["results"] as? [[String: Any]])
        let expected = try expectedProbabilities()
        XCTAssertEqual(results.map { $0["index"] as! Int }, rankedIndices(expected, topN: 2))
        for result in results {
            let index = result["index"] as! Int
            XCTAssertEqual((result["relevance_score"] as! NSNumber).floatValue, expected[index], accuracy: 1e-4)
            let document = try XCTUnwrap(result["document"] as? [String: Any])
            XCTAssertEqual(document["text"] as? String, documents[index])
            if index == 1 { XCTAssertEqual(document["id"] as? Int, 7) }
        }
        XCTAssertEqual(object["model"] as? String, "rerank-english-v3.0")
        let meta = try XCTUnwrap(object["meta"] as? [String: Any])
        XCTAssertEqual((meta["api_version"] as? [String: Any])?["version"] as? String, "1")
    }

    func testCohereV2CapsTokensPerDocument() throws {
        let long = String(repeating: "rainbow light water ", count: 50)
        let reply = try server.post("/v2/rerank", json: body([
            "model": "m", "query": query, "documents": [long, "short"], "max_tokens_per_doc": 8,
        ]))
        XCTAssertEqual(reply.status, 200, reply.text)
        XCTAssertEqual(reply.headers["x-truncated-documents"], "1")
        let meta = try XCTUnwrap((reply.json as? [String: Any])?["meta"] as? [String: Any])
        XCTAssertEqual(meta["truncated_documents"] as? Int, 1)
    }

    func testBadRequestsGetClearErrors() throws {
        let cases: [(String, String, Int, String)] = [
            ("/rerank", "{\"query\": ", 400, "not valid JSON"),
            ("/rerank", "", 400, "empty"),
            ("/rerank", #"{"query": "q", "texts": "not a list"}"#, 422, "texts"),
            ("/rerank", #"{"query": 5, "texts": ["a"]}"#, 422, "query"),
            ("/rerank", #"{"texts": ["a"]}"#, 422, "missing key \"query\""),
            ("/rerank", #"{"query": "  ", "texts": ["a"]}"#, 400, "query must not be empty"),
            ("/rerank", #"{"query": "q", "texts": []}"#, 400, "documents must not be empty"),
            ("/rerank", #"{"query": "q", "texts": ["a"], "truncation_direction": "left"}"#, 422, "truncation_direction"),
            ("/v1/rerank", #"{"query": "q", "documents": ["a"], "top_n": 0}"#, 422, "top_n"),
            ("/v1/rerank", #"{"query": "q", "documents": [3]}"#, 422, "documents[0]"),
            ("/v1/rerank", #"{"query": "q", "documents": [{"title": "x"}]}"#, 422, "documents[0]"),
        ]
        for (path, json, status, fragment) in cases {
            let reply = try server.post(path, json: json)
            XCTAssertEqual(reply.status, status, "\(json): \(reply.text)")
            let object = try XCTUnwrap(reply.json as? [String: Any], reply.text)
            XCTAssertTrue((object["error"] as? String ?? "").contains(fragment), "\(json): \(reply.text)")
            XCTAssertNotNil(object["error_type"] as? String)
        }
        let invalidUTF8 = try server.request("POST", "/rerank", body: Data([0x7B, 0xFF, 0xFE, 0x7D]))
        XCTAssertEqual(invalidUTF8.status, 400)
        XCTAssertTrue(invalidUTF8.text.contains("UTF-8"), invalidUTF8.text)
        XCTAssertEqual(try server.request("GET", "/nope").status, 404)
        let wrongMethod = try server.request("GET", "/rerank")
        XCTAssertEqual(wrongMethod.status, 405)
        XCTAssertEqual(wrongMethod.headers["allow"], "POST")
    }

    /// A megabyte of short words fits the token budget once the template's 200-word cut applies: that cut
    /// is counted and named, and `"truncate": false` refuses it like the token budget's.
    func testTemplateWordCutIsCountedAndRefusable() throws {
        let huge = String(repeating: "a b ", count: 250_000)
        let cut = try server.post("/rerank", json: body(["query": "q", "texts": ["short", huge]]))
        XCTAssertEqual(cut.status, 200, cut.text)
        XCTAssertEqual(cut.headers["x-truncated-documents"], "1")
        XCTAssertEqual(cut.headers["x-truncated-by"], "max_passage_words=1")
        let whole = try server.post("/rerank", json: body(["query": "q", "texts": ["short", "  spaced\tout  "]]))
        XCTAssertEqual(whole.headers["x-truncated-documents"], "0")
        XCTAssertNil(whole.headers["x-truncated-by"])
        let refused = try server.post("/v1/rerank", json: body(["query": "q", "documents": ["short", huge],
                                                                "truncate": false]))
        XCTAssertEqual(refused.status, 422, refused.text)
        XCTAssertTrue(refused.text.contains("document 1 is too long: it has more than 200 words"), refused.text)
    }

    func testTooManyDocumentsAndNoTruncation() throws {
        let many = try server.post("/rerank", json: body(["query": "q", "texts": Array(repeating: "d", count: 1001)]))
        XCTAssertEqual(many.status, 422)
        XCTAssertTrue(many.text.contains("1001 documents is over the limit of 1000"), many.text)
        // Long words, so the template's 200-word cut still leaves far more than 512 tokens.
        let long = String(repeating: "antidisestablishmentarianism ", count: 400)
        let refused = try server.post("/rerank", json: body(["query": "q", "texts": ["a", long], "truncate": false]))
        XCTAssertEqual(refused.status, 422)
        XCTAssertTrue(refused.text.contains("document 1"), refused.text)
        let cut = try server.post("/rerank", json: body(["query": "q", "texts": ["a", long]]))
        XCTAssertEqual(cut.status, 200)
        XCTAssertEqual(cut.headers["x-truncated-documents"], "1")
        XCTAssertEqual(cut.headers["x-truncated-by"], "max_passage_words=1, max_input_tokens=1")
    }

    func testOperationalRoutes() throws {
        XCTAssertEqual(try server.request("GET", "/health").status, 200)
        XCTAssertEqual(try server.request("GET", "/ready").status, 200)
        let info = try XCTUnwrap(try server.request("GET", "/info").json as? [String: Any])
        let model = try XCTUnwrap(info["model"] as? [String: Any])
        XCTAssertEqual((model["weights_sha256"] as? String)?.count, 64)
        XCTAssertEqual(model["precision"] as? String, "fp32")
        XCTAssertNil(model["int8_weight_levels"])
        XCTAssertEqual(model["kernels"] as? String, T5Model.kernelISA)
        XCTAssertEqual((info["template"] as? [String: Any])?["name"] as? String, "instructdistill")
        XCTAssertEqual(((model["config"] as? [String: Any])?["d_model"] as? Int), 128)
        let openAPI = try server.request("GET", "/openapi.yaml")
        XCTAssertEqual(openAPI.status, 200)
        XCTAssertTrue(openAPI.text.hasPrefix("openapi: 3"))
        XCTAssertEqual(try server.request("POST", "/admin/reload").status, 403)
    }
}
