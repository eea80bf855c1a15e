import Foundation
import XCTest
@testable import T5

/// Every broken checkpoint fails at load with one CheckpointError naming the file (and tensor), never a crash.
final class CheckpointErrorTests: XCTestCase {
    private var directory: URL!
    private let tinyConfig = Fixtures.directory.appendingPathComponent("tiny_f32/config.json")

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("t5-errors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: tinyConfig, to: directory.appendingPathComponent("config.json"))
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    private var modelPath: String { directory.appendingPathComponent("model.safetensors").path }

    private func tinyTensors() throws -> [(name: String, shape: [Int])] {
        try T5ParameterLayout(config: try T5Config.load(from: tinyConfig) { true }).tensors.map { ($0.name, $0.shape) }
    }

    private func writeModel(_ data: Data, name: String = "model.safetensors") throws {
        try data.write(to: directory.appendingPathComponent(name))
    }

    private func assertLoadFails(_ expected: CheckpointError, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try T5Model(directory: directory), file: file, line: line) { error in
            XCTAssertEqual(error as? CheckpointError, expected, file: file, line: line)
        }
    }

    private func assertMalformed(containing text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try T5Model(directory: directory), file: file, line: line) { error in
            guard case let .malformed(path, reason)? = error as? CheckpointError else {
                return XCTFail("expected malformed, got \(error)", file: file, line: line)
            }
            XCTAssertEqual(path, modelPath, file: file, line: line)
            XCTAssertTrue(reason.contains(text), "\(reason)", file: file, line: line)
        }
    }

    func testMessagesNameFileAndTensor() {
        let error = CheckpointError.wrongShape(path: "m/model.safetensors", tensor: "shared.weight", expected: [10, 4], found: [10, 5])
        XCTAssertEqual(error.description, "m/model.safetensors: tensor 'shared.weight' has shape [10, 5], expected [10, 4]")
    }

    func testValidZeroCheckpointLoads() throws {
        try writeModel(SafeTensorsWriter.zeros(try tinyTensors()))
        XCTAssertNoThrow(try T5Model(directory: directory))
    }

    func testTruncatedFile() throws {
        let original = try Data(contentsOf: Fixtures.directory.appendingPathComponent("tiny_f32/model.safetensors"))
        try writeModel(original.prefix(original.count - 100))
        assertMalformed(containing: "truncated")
    }

    func testHeaderLongerThanFile() throws {
        var data = Data()
        withUnsafeBytes(of: UInt64(1000).littleEndian) { data.append(contentsOf: $0) }
        try writeModel(data + Data("{}".utf8))
        assertMalformed(containing: "exceeds the file size")
    }

    func testHeaderOverTheFormatLimit() throws {
        var data = Data()
        withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { data.append(contentsOf: $0) }
        try writeModel(data + Data("{}".utf8))
        assertMalformed(containing: "over the format's 100 MB")
    }

    func testFileShorterThanHeaderLength() throws {
        try writeModel(Data([1, 2, 3]))
        assertMalformed(containing: "shorter than the 8-byte header length")
    }

    func testCorruptHeaderJSON() throws {
        try writeModel(SafeTensorsWriter.file(header: "{\"shared.weight\": {\"dtype\": ", dataLength: 0))
        assertMalformed(containing: "not a JSON object")
    }

    func testOverlappingOffsets() throws {
        try writeModel(SafeTensorsWriter.file(entries: [
            .init(name: "a", dtype: "F32", shape: [2], offsets: (0, 8)),
            .init(name: "b", dtype: "F32", shape: [2], offsets: (4, 12)),
        ], dataLength: 12))
        assertMalformed(containing: "tensor 'b' data_offsets [4, 12] overlaps")
    }

    func testHoleBetweenTensors() throws {
        try writeModel(SafeTensorsWriter.file(entries: [
            .init(name: "a", dtype: "F32", shape: [2], offsets: (0, 8)),
            .init(name: "b", dtype: "F32", shape: [2], offsets: (12, 20)),
        ], dataLength: 20))
        assertMalformed(containing: "tensor 'b' data_offsets [12, 20] leaves a hole")
    }

    func testTrailingBytesAfterLastTensor() throws {
        try writeModel(SafeTensorsWriter.file(entries: [.init(name: "a", dtype: "F32", shape: [2], offsets: (0, 8))],
                                              dataLength: 16))
        assertMalformed(containing: "cover 8 data bytes but the file holds 16")
    }

    func testByteSizeDisagreesWithDtypeAndShape() throws {
        try writeModel(SafeTensorsWriter.file(entries: [.init(name: "a", dtype: "F16", shape: [2, 3], offsets: (0, 24))],
                                              dataLength: 24))
        assertMalformed(containing: "tensor 'a' spans 24 bytes but F16 x [2, 3] needs 12")
    }

    func testUnknownDType() throws {
        try writeModel(SafeTensorsWriter.file(entries: [.init(name: "a", dtype: "F64", shape: [2], offsets: (0, 16))],
                                              dataLength: 16))
        assertLoadFails(.unsupportedDType(path: modelPath, tensor: "a", dtype: "F64"))
    }

    func testMissingTensor() throws {
        let tensors = try tinyTensors().filter { $0.name != "decoder.block.1.layer.1.EncDecAttention.k.weight" }
        try writeModel(SafeTensorsWriter.zeros(tensors))
        assertLoadFails(.missingTensor(path: modelPath, tensor: "decoder.block.1.layer.1.EncDecAttention.k.weight"))
    }

    func testWrongShapeForConfig() throws {
        let tensors = try tinyTensors().map { tensor in
            tensor.name == "encoder.block.2.layer.1.DenseReluDense.wo.weight" ? (tensor.name, [24, 41]) : tensor
        }
        try writeModel(SafeTensorsWriter.zeros(tensors))
        assertLoadFails(.wrongShape(path: modelPath, tensor: "encoder.block.2.layer.1.DenseReluDense.wo.weight",
                                    expected: [24, 40], found: [24, 41]))
    }

    func testOnlyPytorchBin() throws {
        try writeModel(Data([0x80, 0x02]), name: "pytorch_model.bin")
        XCTAssertThrowsError(try T5Model(directory: directory)) { error in
            guard case let .missingFile(path, reason)? = error as? CheckpointError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, modelPath)
            XCTAssertTrue(reason.contains("only pytorch_model.bin"), reason)
        }
    }

    func testNoWeightsAtAll() {
        XCTAssertThrowsError(try T5Model(directory: directory)) { error in
            guard case let .missingFile(path, _)? = error as? CheckpointError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, modelPath)
        }
    }

    func testShardIndexNamesMissingShard() throws {
        let index = "{\"weight_map\": {\"shared.weight\": \"model-00009.safetensors\"}}"
        try writeModel(Data(index.utf8), name: "model.safetensors.index.json")
        let indexPath = directory.appendingPathComponent("model.safetensors.index.json").path
        // No lm_head listed, so shared.weight projects; the first layout tensor with no shard is reported.
        assertLoadFails(.missingTensor(path: indexPath, tensor: "encoder.block.0.layer.0.layer_norm.weight"))
    }

    func testShardFileMissing() throws {
        let weightMap = try tinyTensors().map { "\"\($0.name)\": \"model-00001-of-00001.safetensors\"" }
        try writeModel(Data(("{\"weight_map\": {" + weightMap.joined(separator: ", ") + "}}").utf8),
                       name: "model.safetensors.index.json")
        XCTAssertThrowsError(try T5Model(directory: directory)) { error in
            guard case let .missingFile(path, _)? = error as? CheckpointError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, self.directory.appendingPathComponent("model-00001-of-00001.safetensors").path)
        }
    }
}
