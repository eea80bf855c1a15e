import Foundation
import XCTest
@testable import T5

final class T5ConfigTests: XCTestCase {
    private func load(_ json: String, storesLMHead: Bool = false) throws -> T5Config {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("config-\(UUID().uuidString).json")
        try Data(json.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        return try T5Config.load(from: url) { storesLMHead }
    }

    private func assertInvalid(_ json: String, mentions text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try load(json), file: file, line: line) { error in
            guard case let .invalidConfig(_, reason)? = error as? CheckpointError else {
                return XCTFail("expected invalidConfig, got \(error)", file: file, line: line)
            }
            XCTAssertTrue(reason.contains(text), reason, file: file, line: line)
        }
    }

    /// Absent keys take transformers.T5Config's defaults: relu, 6 layers, tied embeddings (so scaled).
    func testDefaultsMatchTransformers() throws {
        let config = try load("{}")
        XCTAssertEqual(config, T5Config(vocabSize: 32128, dModel: 512, dKV: 64, dFF: 2048, numHeads: 8, numLayers: 6,
                                        numDecoderLayers: 6, feedForward: .relu, outputProjection: .sharedEmbedding,
                                        scaleDecoderOutputs: true, scaleRule: .tieWordEmbeddingsKey))
    }

    /// The rule of each transformers generation (4.x: the tie flag decides the scaling; 5.x writes
    /// scale_decoder_outputs and always says tied), and lm_head whenever the file stores one.
    func testOutputRuleOfBothTransformersGenerations() throws {
        let cases: [(json: String, storesLMHead: Bool, projection: T5Config.OutputProjection, scaled: Bool,
                     rule: T5Config.ScaleRule)] = [
            ("{\"tie_word_embeddings\": false}", true, .lmHead, false, .tieWordEmbeddingsKey),  // 4.x FLAN-T5
            ("{\"tie_word_embeddings\": true}", false, .sharedEmbedding, true, .tieWordEmbeddingsKey),  // 4.x T5
            ("{}", false, .sharedEmbedding, true, .tieWordEmbeddingsKey),  // 4.x T5, key left out
            // 5.x re-saved FLAN-T5: says tied, stores both tables; the stored lm_head wins.
            ("{\"tie_word_embeddings\": true, \"scale_decoder_outputs\": false}", true, .lmHead, false,
             .scaleDecoderOutputsKey),
            // 5.x fresh from tie_word_embeddings=False: one table, not scaled.
            ("{\"tie_word_embeddings\": true, \"scale_decoder_outputs\": false}", false, .sharedEmbedding, false,
             .scaleDecoderOutputsKey),
            ("{\"tie_word_embeddings\": true, \"scale_decoder_outputs\": true}", false, .sharedEmbedding, true,
             .scaleDecoderOutputsKey),
            // The 5.x key wins over a contradicting 4.x one.
            ("{\"tie_word_embeddings\": false, \"scale_decoder_outputs\": true}", true, .lmHead, true,
             .scaleDecoderOutputsKey),
        ]
        for testCase in cases {
            let config = try load(testCase.json, storesLMHead: testCase.storesLMHead)
            XCTAssertEqual(config.outputProjection, testCase.projection, testCase.json)
            XCTAssertEqual(config.scaleDecoderOutputs, testCase.scaled, testCase.json)
            XCTAssertEqual(config.scaleRule, testCase.rule, testCase.json)
        }
        XCTAssertEqual(
            try load("{\"scale_decoder_outputs\": false}", storesLMHead: true).outputRule,
            "logits = lm_head.weight x final decoder state, not scaled (by scale_decoder_outputs (transformers 5))")
    }

    func testNullDecoderLayersFollowsEncoder() throws {
        XCTAssertEqual(try load("{\"num_layers\": 3, \"num_decoder_layers\": null}").numDecoderLayers, 3)
    }

    func testRejectsNonJSON() {
        assertInvalid("d_model = 512", mentions: "not a JSON object")
    }

    func testRejectsWrongValueType() {
        assertInvalid("{\"d_model\": \"512\"}", mentions: "d_model")
    }

    func testRejectsNonPositiveSize() {
        assertInvalid("{\"num_heads\": 0}", mentions: "num_heads must be positive")
    }

    func testRejectsUnsupportedFeedForward() {
        assertInvalid("{\"feed_forward_proj\": \"gated-silu\"}", mentions: "gated-silu")
    }

    func testRejectsTooSmallMaxDistance() {
        assertInvalid("{\"relative_attention_num_buckets\": 32, \"relative_attention_max_distance\": 16}",
                      mentions: "relative_attention_max_distance")
    }

    func testRejectsDecoderStartOutsideVocabulary() {
        assertInvalid("{\"vocab_size\": 100, \"decoder_start_token_id\": 100}", mentions: "decoder_start_token_id")
    }

    func testMissingConfigFile() {
        XCTAssertThrowsError(try T5Config.load(from: URL(fileURLWithPath: "/nonexistent/config.json")) { false }) { error in
            guard case let .missingFile(path, _)? = error as? CheckpointError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, "/nonexistent/config.json")
        }
    }
}
