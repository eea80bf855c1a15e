import Foundation
import SentencePiece
import T5
import XCTest
@testable import Ranking

/// Scores of the bundled demo checkpoint against `transformers`
/// (Tests/Fixtures/ranking/expected_scores.jsonl, made by Scripts/fixtures/make_demo_model.py).
final class PointwiseScorerTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let demo = root.appendingPathComponent("Models/demo", isDirectory: true)
    static let model = Result { try T5Model(directory: demo) }
    static let tokenizer = Result { try SentencePieceTokenizer(directory: demo) }

    struct Expected: Decodable {
        let template: String
        let query: String
        let documents: [String]
        let ids: [[Int32]]
        let scores: [Float]
    }

    func expectations() throws -> [Expected] {
        let url = Self.root.appendingPathComponent("Tests/Fixtures/ranking/expected_scores.jsonl")
        return try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            try JSONDecoder().decode(Expected.self, from: Data($0.utf8))
        }
    }

    func testScoresMatchTransformersForEveryPreset() throws {
        let model = try Self.model.get(), tokenizer = try Self.tokenizer.get()
        let cases = try expectations()
        XCTAssertEqual(Set(cases.map(\.template)), Set(PromptTemplate.presets.keys))
        for expected in cases {
            let scorer = try PointwiseScorer(model: model, tokenizer: tokenizer,
                                             template: PromptTemplate.preset(named: expected.template))
            let prompts = try expected.documents.map { try scorer.encode(query: expected.query, document: $0) }
            XCTAssertEqual(prompts.map(\.ids), expected.ids, expected.template)
            XCTAssertFalse(prompts.contains { $0.truncated })
            let scores = try scorer.rawScores(query: expected.query, documents: expected.documents)
            for (score, reference) in zip(scores, expected.scores) {
                XCTAssertEqual(score, reference, accuracy: 1e-4 * max(1, abs(reference)), expected.template)
            }
        }
    }

    func testScoreDoesNotDependOnBatch() throws {
        let scorer = try PointwiseScorer(model: Self.model.get(), tokenizer: Self.tokenizer.get(),
                                         template: .monoT5)
        let documents = ["short", "a somewhat longer document about rainbows and light", "x y z", ""]
        let prompts = try documents.map { try scorer.encode(query: "rainbows", document: $0).ids }
        let together = scorer.rawScores(prompts)
        for (index, prompt) in prompts.enumerated() {
            XCTAssertEqual(scorer.rawScores([prompt])[0], together[index], accuracy: 1e-6)
        }
        XCTAssertEqual(scorer.rawScores(prompts.reversed()).reversed(), together)
    }

    func testMissingScorePieceIsAClearError() throws {
        let template = try PromptTemplate(name: "odd", text: "{query} {passage}", rule: .logit(piece: "▁Zyzzyva"))
        XCTAssertThrowsError(try PointwiseScorer(model: Self.model.get(), tokenizer: Self.tokenizer.get(),
                                                 template: template)) {
            XCTAssertEqual("\($0)", "template 'odd' scores the token '▁Zyzzyva', which the model's tokenizer does not have")
        }
    }
}
