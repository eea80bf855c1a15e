import Foundation
import ParityFixtures
import Ranking
import XCTest
@testable import RerankAPI

/// Every rerank route, for checkpoints written by transformers 4.46 and 5.23 and every preset template,
/// returns the scores transformers computed (Tests/Fixtures/ranking), in transformers' order.
final class RouteParityTests: XCTestCase {
    func body(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    /// (index, score) pairs of a reply in the order the server sent them.
    func results(_ reply: LiveServer.Reply, scoreKey: String) throws -> [(index: Int, score: Double)] {
        XCTAssertEqual(reply.status, 200, reply.text)
        let json = try XCTUnwrap(reply.json)
        let list = try XCTUnwrap((json as? [[String: Any]]) ?? ((json as? [String: Any])?["results"] as? [[String: Any]]))
        return try list.map {
            (try XCTUnwrap($0["index"] as? Int), try XCTUnwrap(($0[scoreKey] as? NSNumber)?.doubleValue))
        }
    }

    func assertMatches(_ got: [(index: Int, score: Double)], _ expected: [Double], _ label: String) {
        XCTAssertEqual(got.map(\.index), rankedIndices(expected.map(Float.init), topN: nil), label)
        var byIndex = [Double](repeating: .nan, count: expected.count)
        for result in got where expected.indices.contains(result.index) { byIndex[result.index] = result.score }
        XCTAssertEqual(ScoreComparison.mismatches(byIndex, expected), [], label)
    }

    func testEveryRouteMatchesTransformers() throws {
        for checkpoint in try ParityFixtures.checkpoints() {
            for template in Set(checkpoint.examples.map(\.template)).sorted() {
                let preset = try PromptTemplate.preset(named: template)
                let server = try LiveServer(model: checkpoint.directory.path, template: preset)
                let info = try XCTUnwrap(try server.request("GET", "/info").json as? [String: Any])
                let config = try XCTUnwrap((info["model"] as? [String: Any])?["config"] as? [String: Any])
                XCTAssertTrue((config["output_rule"] as? String)?.hasPrefix("logits = ") == true, "\(config)")
                for example in checkpoint.examples where example.template == template {
                    let label = "\(checkpoint.name), \(template), \(example.query)"
                    let probabilities = example.scores.map { Double(preset.rule.probability(rawScore: Float($0))) }
                    let raw = try server.post("/rerank", json: body([
                        "query": example.query, "texts": example.documents, "raw_scores": true]))
                    assertMatches(try results(raw, scoreKey: "score"), example.scores, "/rerank raw, \(label)")
                    let tei = try server.post("/rerank", json: body(["query": example.query, "texts": example.documents]))
                    assertMatches(try results(tei, scoreKey: "score"), probabilities, "/rerank, \(label)")
                    for route in ["/v1/rerank", "/v2/rerank"] {
                        let reply = try server.post(route, json: body([
                            "model": "m", "query": example.query, "documents": example.documents]))
                        assertMatches(try results(reply, scoreKey: "relevance_score"), probabilities, "\(route), \(label)")
                    }
                }
            }
        }
    }

    /// /info says which transformers rule formed the logits, so a user can see why scores match.
    func testInfoReportsTheOutputRule() throws {
        let expectations = [
            ("Tests/Fixtures/ranking/random_v4", "lm_head.weight", false, "tie_word_embeddings (transformers 4)"),
            ("Tests/Fixtures/ranking/random_v5_resaved", "lm_head.weight", false, "scale_decoder_outputs (transformers 5)"),
            ("Tests/Fixtures/ranking/random_v5_fresh", "shared.weight", false, "scale_decoder_outputs (transformers 5)"),
        ]
        for (directory, projection, scaled, key) in expectations {
            let server = try LiveServer(model: ParityFixtures.root.appendingPathComponent(directory).path)
            let info = try XCTUnwrap(try server.request("GET", "/info").json as? [String: Any])
            let config = try XCTUnwrap((info["model"] as? [String: Any])?["config"] as? [String: Any])
            XCTAssertEqual(config["output_projection"] as? String, projection, directory)
            XCTAssertEqual(config["scale_decoder_outputs"] as? Bool, scaled, directory)
            XCTAssertEqual(config["output_rule"] as? String,
                           "logits = \(projection) x final decoder state, not scaled (by \(key))", directory)
        }
    }
}
