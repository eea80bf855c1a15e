import Foundation
import XCTest
@testable import T5

final class T5ConfigTests: XCTestCase {
    private func load(_ json: String) throws -> T5Config {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("config-\(UUID().uuidString).json")
        try Data(json.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        return try T5Config.load(from: url)
    }

    private func assertInvalid(_ json: String, mentions text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try load(json), file: file, line: line) { error in
            guard case let .invalidConfig(_, reason)? = error as? CheckpointError else {
                return XCTFail("expected invalidConfig, got \(error)", file: file, line: line)
            }
            XCTAssertTrue(reason.contains(text), reason, file: file, line: line)
        }
    }

    /// Absent keys take transformers.T5Config's defaults: relu, 6 layers, tied embeddings.
    func testDefaultsMatchTransformers() throws {
        let config = try load("{}")
        XCTAssertEqual(config, T5Config(vocabSize: 32128, dModel: 512, dKV: 64, dFF: 2048, numHeads: 8, numLayers: 6,
                                        numDecoderLayers: 6, feedForward: .relu, tieWordEmbeddings: true))
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
        XCTAssertThrowsError(try T5Config.load(from: URL(fileURLWithPath: "/nonexistent/config.json"))) { error in
            guard case let .missingFile(path, _)? = error as? CheckpointError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, "/nonexistent/config.json")
        }
    }
}
