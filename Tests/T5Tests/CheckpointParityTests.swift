import Foundation
import XCTest
@testable import T5

/// Committed tiny random checkpoints (odd shapes, every dtype, sharded, relu, tied) against transformers.
final class CheckpointParityTests: XCTestCase {
    private func checkParity(_ name: String) throws {
        let model = try T5Model(directory: Fixtures.directory.appendingPathComponent(name))
        let expected = try Fixtures.expected("\(name)/expected.json")
        for testCase in expected.cases {
            let logits = model.logits(inputs: expected.inputs, decoderPrefix: testCase.prefix, vocabIDs: testCase.vocab_ids)
            assertLogitsClose(logits, testCase.logits, "\(name) prefix \(testCase.prefix)")
        }
    }

    func testF32() throws { try checkParity("tiny_f32") }
    func testF16() throws { try checkParity("tiny_f16") }
    func testBF16() throws { try checkParity("tiny_bf16") }
    func testSharded() throws { try checkParity("tiny_sharded") }
    func testReluVariant() throws { try checkParity("tiny_relu") }
    func testTiedEmbeddings() throws { try checkParity("tiny_tied") }

    func testConfigOfTinyCheckpoint() throws {
        let config = try T5Config.load(from: Fixtures.directory.appendingPathComponent("tiny_f32/config.json"))
        XCTAssertEqual(config, T5Config(
            vocabSize: 120, dModel: 24, dKV: 10, dFF: 40, numHeads: 3, numLayers: 3, numDecoderLayers: 2,
            relativeAttentionNumBuckets: 12, relativeAttentionMaxDistance: 20, layerNormEpsilon: 1e-6,
            feedForward: .gatedGelu, tieWordEmbeddings: false, decoderStartTokenID: 0))
    }

    /// A sequence's logits must not depend on what else is in its batch or pack, nor on the threading mode.
    func testBatchInvariance() throws {
        let model = try T5Model(directory: Fixtures.directory.appendingPathComponent("tiny_f32"))
        let expected = try Fixtures.expected("tiny_f32/expected.json")
        let vocab: [Int32] = [0, 1, 2, 57, 119]
        let alone = expected.inputs.map { model.logits(inputs: [$0], decoderPrefix: [0], vocabIDs: vocab)[0] }
        let batch = expected.inputs.reversed() + expected.inputs + [expected.inputs[2]]
        for (parallelism, maxPackRows) in [(T5Model.Parallelism.sequences, 2048), (.sequences, 30), (.blas, 2048), (.blas, 1)] {
            model.parallelism = parallelism
            model.maxPackRows = maxPackRows
            let together = model.logits(inputs: batch, decoderPrefix: [0], vocabIDs: vocab)
            let order = Array(expected.inputs.indices.reversed()) + Array(expected.inputs.indices) + [2]
            for (row, source) in zip(together, order) {
                for (a, b) in zip(row, alone[source]) {
                    XCTAssertLessThanOrEqual(abs(a - b), 1e-6 * max(1, abs(b)), "\(parallelism) \(maxPackRows) input \(source)")
                }
            }
        }
    }
}
