import Foundation
import XCTest
@testable import T5

/// Committed tiny random checkpoints (odd shapes, every dtype, sharded, relu, tied) against transformers;
/// `tiny_*` written and scored by transformers 4.46, `v5_*` by transformers 5.23.
final class CheckpointParityTests: XCTestCase {
    /// As the executables do at start: one sequence per worker, single-threaded BLAS (the invariance
    /// bounds hold for that setting).
    override class func setUp() {
        super.setUp()
        CPUBudget.configureBLAS(threads: 1)
    }

    @discardableResult
    private func checkParity(_ name: String) throws -> T5Model {
        let model = try T5Model(directory: Fixtures.directory.appendingPathComponent(name))
        let expected = try Fixtures.expected("\(name)/expected.json")
        for testCase in expected.cases {
            let logits = try model.logits(inputs: expected.inputs, decoderPrefix: testCase.prefix, vocabIDs: testCase.vocab_ids)
            assertLogitsClose(logits, testCase.logits, "\(name) prefix \(testCase.prefix)")
        }
        return model
    }

    private func checkParity(_ name: String, projection: T5Config.OutputProjection, scaled: Bool) throws {
        let config = try checkParity(name).config
        XCTAssertEqual(config.outputProjection, projection, name)
        XCTAssertEqual(config.scaleDecoderOutputs, scaled, name)
    }

    func testF32() throws { try checkParity("tiny_f32") }
    func testF16() throws { try checkParity("tiny_f16") }
    func testBF16() throws { try checkParity("tiny_bf16") }
    func testSharded() throws { try checkParity("tiny_sharded") }
    func testReluVariant() throws { try checkParity("tiny_relu") }
    func testTiedEmbeddings() throws { try checkParity("tiny_tied", projection: .sharedEmbedding, scaled: true) }
    func testUntiedEmbeddings() throws { try checkParity("tiny_f32", projection: .lmHead, scaled: false) }

    // transformers 5 writes "tie_word_embeddings": true in every T5 config; see make_transformers5_fixtures.py.
    func testTransformers5FreshUntied() throws {
        try checkParity("v5_fresh_untied", projection: .sharedEmbedding, scaled: false)
    }
    func testTransformers5FreshTied() throws {
        try checkParity("v5_fresh_tied", projection: .sharedEmbedding, scaled: true)
    }
    func testTransformers5ResavedUntied() throws {
        try checkParity("v5_resaved_untied", projection: .lmHead, scaled: false)
    }
    func testTransformers5ResavedTied() throws {
        try checkParity("v5_resaved_tied", projection: .sharedEmbedding, scaled: true)
    }

    func testConfigOfTinyCheckpoint() throws {
        let config = try T5Config.load(from: Fixtures.directory.appendingPathComponent("tiny_f32/config.json")) { true }
        XCTAssertEqual(config, T5Config(
            vocabSize: 120, dModel: 24, dKV: 10, dFF: 40, numHeads: 3, numLayers: 3, numDecoderLayers: 2,
            relativeAttentionNumBuckets: 12, relativeAttentionMaxDistance: 20, layerNormEpsilon: 1e-6,
            feedForward: .gatedGelu, outputProjection: .lmHead, scaleDecoderOutputs: false,
            scaleRule: .tieWordEmbeddingsKey, decoderStartTokenID: 0))
    }

    /// Ids the model cannot run are thrown back, never trapped on.
    func testInputsOutsideTheVocabularyAreErrors() throws {
        let model = try T5Model(directory: Fixtures.directory.appendingPathComponent("tiny_f32"))
        XCTAssertThrowsError(try model.logits(inputs: [[5, 120, 1]], decoderPrefix: [0], vocabIDs: [3])) {
            XCTAssertEqual($0 as? T5InputError, .tokenOutsideVocabulary(id: 120, vocabSize: 120))
        }
        XCTAssertThrowsError(try model.logits(inputs: [[5, 1]], decoderPrefix: [0], vocabIDs: [-1]))
        XCTAssertThrowsError(try model.logits(inputs: [[5, 1]], decoderPrefix: [], vocabIDs: [3]))
        XCTAssertThrowsError(try model.logits(inputs: [[5, 1], []], decoderPrefix: [0], vocabIDs: [3])) {
            XCTAssertEqual($0 as? T5InputError, .emptyInput(index: 1))
        }
    }

    /// A sequence's logits must not depend on what else is in its batch or pack, nor on the threading mode.
    func testBatchInvariance() throws {
        let model = try T5Model(directory: Fixtures.directory.appendingPathComponent("tiny_f32"))
        let expected = try Fixtures.expected("tiny_f32/expected.json")
        let vocab: [Int32] = [0, 1, 2, 57, 119]
        let alone = try expected.inputs.map { try model.logits(inputs: [$0], decoderPrefix: [0], vocabIDs: vocab)[0] }
        let batch = expected.inputs.reversed() + expected.inputs + [expected.inputs[2]]
        for (parallelism, maxPackRows) in [(T5Model.Parallelism.sequences, 2048), (.sequences, 30), (.blas, 2048), (.blas, 1)] {
            model.parallelism = parallelism
            model.maxPackRows = maxPackRows
            let together = try model.logits(inputs: batch, decoderPrefix: [0], vocabIDs: vocab)
            let order = Array(expected.inputs.indices.reversed()) + Array(expected.inputs.indices) + [2]
            for (row, source) in zip(together, order) {
                // Not bit-exact: OpenBLAS's Haswell/Zen sgemm rounds a row by where it falls in its M blocking
                // (1.4e-6 measured on an AVX2-only EPYC; its Sandybridge and SkylakeX kernels stay under 1e-6).
                // A sequence that sees its pack-mates (a mask or bias crossing sequences) is off by 1e-2 or more.
                for (a, b) in zip(row, alone[source]) {
                    XCTAssertLessThanOrEqual(abs(a - b), 5e-6 * max(1, abs(b)), "\(parallelism) \(maxPackRows) input \(source)")
                }
            }
        }
    }
}
