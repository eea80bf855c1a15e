import Foundation
import ParityFixtures
import SentencePiece
import T5
import XCTest
@testable import Ranking

/// Scores of checkpoints written by transformers 4.x and 5.x against the scores transformers computed
/// (Tests/Fixtures/ranking, made by Scripts/fixtures/make_random_model.py and make_transformers5_fixtures.py).
final class PointwiseScorerTests: XCTestCase {
    /// As the executables do at start: one sequence per worker, single-threaded BLAS (the invariance
    /// bounds hold for that setting).
    override class func setUp() {
        super.setUp()
        CPUBudget.configureBLAS(threads: 1)
    }

    static let randomModel = ParityFixtures.root.appendingPathComponent("Tests/Fixtures/ranking/random_v4", isDirectory: true)
    static let model = Result { try T5Model(directory: randomModel) }
    static let tokenizer = Result { try SentencePieceTokenizer(directory: randomModel) }

    func testScoresMatchTransformersForEveryPresetAndCheckpoint() throws {
        let checkpoints = try ParityFixtures.checkpoints()
        XCTAssertEqual(checkpoints.count, 3)
        for checkpoint in checkpoints {
            let model = try T5Model(directory: checkpoint.directory)
            let tokenizer = try SentencePieceTokenizer(directory: checkpoint.directory)
            XCTAssertEqual(Set(checkpoint.examples.map(\.template)), Set(PromptTemplate.presets.keys), checkpoint.name)
            for expected in checkpoint.examples {
                let scorer = try PointwiseScorer(model: model, tokenizer: tokenizer,
                                                 template: PromptTemplate.preset(named: expected.template))
                let label = "\(checkpoint.name), \(expected.template), \(expected.query)"
                let prompts = try expected.documents.map { try scorer.encode(query: expected.query, document: $0) }
                XCTAssertEqual(prompts.map(\.ids), expected.ids, label)
                XCTAssertFalse(prompts.contains { $0.truncated }, label)
                let scores = try scorer.rawScores(query: expected.query, documents: expected.documents)
                XCTAssertEqual(ScoreComparison.mismatches(scores.map(Double.init), expected.scores), [], label)
            }
        }
    }

    /// The fixtures spread their scores, so the comparison above rejects a scorer that returns a constant
    /// or sends scores to the wrong documents; and the comparison itself says so for such scorers.
    func testParityCheckRejectsConstantAndPermutedScorers() throws {
        for checkpoint in try ParityFixtures.checkpoints() {
            for expected in checkpoint.examples where expected.scores.count > 1 {
                let rule = try PromptTemplate.preset(named: expected.template).rule
                let label = "\(checkpoint.name), \(expected.template), \(expected.query)"
                let probabilities = expected.scores.map { Double(rule.probability(rawScore: Float($0))) }
                XCTAssertEqual(ScoreComparison.weaknesses(rawScores: expected.scores, probabilities: probabilities),
                               [], label)
                let mean = expected.scores.reduce(0, +) / Double(expected.scores.count)
                let constant = [Double](repeating: mean, count: expected.scores.count)
                let rotated = Array(expected.scores.dropFirst()) + [expected.scores[0]]
                XCTAssertFalse(ScoreComparison.mismatches(constant, expected.scores).isEmpty, label)
                XCTAssertFalse(ScoreComparison.mismatches(rotated, expected.scores).isEmpty, label)
                XCTAssertFalse(ScoreComparison.mismatches(expected.scores.reversed(), expected.scores).isEmpty, label)
            }
        }
    }

    /// Scores reached through the same model must not depend on what else is in the batch. The bound is
    /// float rounding: a score is a difference of dot products of ~100 in magnitude, so a different GEMM
    /// blocking moves it by ~1e-6 (seen: 1.8e-6), far below the gaps between documents.
    func testScoreDoesNotDependOnBatch() throws {
        let scorer = try PointwiseScorer(model: Self.model.get(), tokenizer: Self.tokenizer.get(),
                                         template: .monoT5)
        try Self.assertBatchInvariant(scorer)
    }

    /// Each document scored alone, in a batch, and in a reversed batch gets the same score.
    static func assertBatchInvariant(_ scorer: PointwiseScorer, file: StaticString = #filePath, line: UInt = #line) throws {
        let documents = ["short", "a somewhat longer document about rainbows and light", "x y z", ""]
        let prompts = try documents.map { try scorer.encode(query: "rainbows", document: $0).ids }
        let together = try scorer.rawScores(prompts)
        for (index, prompt) in prompts.enumerated() {
            XCTAssertEqual(try scorer.rawScores([prompt])[0], together[index], accuracy: 1e-5, file: file, line: line)
        }
        XCTAssertEqual(try scorer.rawScores(prompts.reversed()).reversed(), together, file: file, line: line)
        XCTAssertGreaterThan(Set(together).count, 3, "the random test model should tell these documents apart",
                             file: file, line: line)
    }

    func testMissingScorePieceIsAClearError() throws {
        let template = try PromptTemplate(name: "odd", text: "{query} {passage}", rule: .logit(piece: "▁Zyzzyva"))
        XCTAssertThrowsError(try PointwiseScorer(model: Self.model.get(), tokenizer: Self.tokenizer.get(),
                                                 template: template)) {
            XCTAssertEqual("\($0)", "template 'odd' scores the token '▁Zyzzyva', which the model's tokenizer does not have")
        }
    }
}
