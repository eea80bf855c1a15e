import Foundation
import ParityFixtures
import Ranking
import SentencePiece
import T5
import XCTest

/// `--precision int8`: the linear layers in int8 move each score a little, keep the order of documents that
/// fp32 tells clearly apart, and still do not depend on the batch.
final class Int8ScoringTests: XCTestCase {
    func scorers() throws -> (fp32: PointwiseScorer, int8: PointwiseScorer) {
        let directory = PointwiseScorerTests.randomModel
        let tokenizer = try SentencePieceTokenizer(directory: directory)
        let exact = try PointwiseScorer(model: T5Model(directory: directory), tokenizer: tokenizer, template: .instructDistill)
        let model = try T5Model(directory: directory)
        model.precision = .int8
        return (exact, try PointwiseScorer(model: model, tokenizer: tokenizer, template: .instructDistill))
    }

    func testInt8ScoresStayCloseToFp32AndKeepTheirOrder() throws {
        let (fp32, int8) = try scorers()
        let examples = try ParityFixtures.checkpoints()[0].examples.filter { $0.template == "instructdistill" }
        var exact: [Float] = [], quantized: [Float] = []
        for example in examples {
            exact += try fp32.rawScores(query: example.query, documents: example.documents)
            quantized += try int8.rawScores(query: example.query, documents: example.documents)
        }
        XCTAssertGreaterThan(exact.count, 8)
        let differences = zip(exact, quantized).map { abs($0 - $1) }
        XCTAssertTrue(differences.contains { $0 > 1e-5 }, "the int8 path did not run: \(quantized) == \(exact)")
        // Measured: largest move 0.051 on these 10 logits, which span -2.42 to 2.13.
        XCTAssertLessThan(differences.max()!, 0.15, "\(exact) vs \(quantized)")
        for i in exact.indices {
            for j in exact.indices where exact[i] - exact[j] > 0.5 {
                XCTAssertGreaterThan(quantized[i], quantized[j], "fp32 puts \(i) clearly above \(j)")
            }
        }
    }

    /// Integer sums are exact, so an int8 score does not depend on the batch beyond the fp32 decoder's rounding.
    func testInt8ScoreDoesNotDependOnBatch() throws {
        try PointwiseScorerTests.assertBatchInvariant(try scorers().int8)
    }
}
