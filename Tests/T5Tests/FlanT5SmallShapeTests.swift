import XCTest
@testable import T5

/// The real flan-t5-small shape (d_model 512, d_ff 1024, 8/8 layers, 6 heads, vocab 32128) with PRNG weights
/// regenerated here; only transformers' logits are committed. Inputs include length 1 and one longer than
/// relative_attention_max_distance (128).
final class FlanT5SmallShapeTests: XCTestCase {
    /// As the executables do at start: one sequence per worker, single-threaded BLAS (the invariance
    /// bounds hold for that setting).
    override class func setUp() {
        super.setUp()
        CPUBudget.configureBLAS(threads: 1)
    }

    func testParityWithTransformers() throws {
        let expected = try Fixtures.expected("flan_t5_small_prng.json")
        let config = T5Config(vocabSize: 32128, dModel: 512, dKV: 64, dFF: 1024, numHeads: 6, numLayers: 8,
                              feedForward: .gatedGelu, outputProjection: .lmHead)
        let weights = PRNGWeights(seed: try XCTUnwrap(expected.seed), dModel: config.dModel)
        let model = try T5Model(config: config) { name, _, destination in
            weights.fill(name: name, destination: destination)
        }
        for testCase in expected.cases {
            let logits = try model.logits(inputs: expected.inputs, decoderPrefix: testCase.prefix, vocabIDs: testCase.vocab_ids)
            assertLogitsClose(logits, testCase.logits, "flan-t5-small shape, prefix \(testCase.prefix)")
            // Each sequence alone must give what it gave packed with the others, to rounding. The issue asked
            // for 1e-6, which holds where OpenBLAS runs one GEMM kernel for every shape; on AVX-512 CPUs
            // OpenBLAS 0.3.21 sends small products (one short sequence alone) to its small-matrix kernels,
            // which sum in another order: up to 2.9e-6 measured on an AMD EPYC with AVX-512.
            for (input, batched) in zip(expected.inputs, logits) {
                let alone = try model.logits(inputs: [input], decoderPrefix: testCase.prefix, vocabIDs: testCase.vocab_ids)[0]
                for (a, b) in zip(alone, batched) {
                    XCTAssertLessThanOrEqual(abs(a - b), 5e-6 * max(1, abs(b)), "length \(input.count): \(a) vs \(b)")
                }
            }
        }
    }
}
