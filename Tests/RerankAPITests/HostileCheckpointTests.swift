import Foundation
import XCTest
@testable import RerankAPI

/// Checkpoints an operator might publish by mistake, or an attacker on purpose: each is refused by
/// `/admin/reload` with a JSON error naming the file and the field, and the old model keeps serving
/// the same scores. (SIGHUP takes the same path; see RerankdProcessTests.)
final class HostileCheckpointTests: XCTestCase {
    static let server = Result { try LiveServer(adminToken: "admin-token") }
    var server: LiveServer { get throws { try Self.server.get() } }
    let probe = #"{"query": "how do rainbows form", "texts": ["Sunlight refracts in droplets.", "Stocks rose."], "raw_scores": true}"#

    struct Hostile {
        let name: String
        /// Fragments the error must contain (file, field, reason).
        let mentions: [String]
        let make: (CheckpointSurgery) throws -> Void
    }

    static let bf16NaN = Data([0xC0, 0x7F])

    let cases: [Hostile] = [
        Hostile(name: "huge d_model", mentions: ["config.json", "d_model 100000000"]) {
            try $0.editConfig(["d_model": 100_000_000]) },
        Hostile(name: "huge vocab", mentions: ["config.json", "vocab_size 1099511627776"]) {
            try $0.editConfig(["vocab_size": 1_099_511_627_776]) },
        Hostile(name: "a million layers", mentions: ["config.json", "num_layers 1000000"]) {
            try $0.editConfig(["num_layers": 1_000_000]) },
        Hostile(name: "overflowing parameter count", mentions: ["config.json", "vocab_size 4611686018427387904"]) {
            try $0.editConfig(["vocab_size": 4_611_686_018_427_387_904, "d_model": 1024]) },
        Hostile(name: "zero heads", mentions: ["config.json", "num_heads must be positive"]) {
            try $0.editConfig(["num_heads": 0]) },
        Hostile(name: "negative d_kv", mentions: ["config.json", "d_kv must be positive"]) {
            try $0.editConfig(["d_kv": -4]) },
        Hostile(name: "config is not JSON", mentions: ["config.json", "not a JSON object"]) {
            try Data("d_model = 512".utf8).write(to: $0.url("config.json")) },
        Hostile(name: "config missing", mentions: ["config.json", "No such file or directory"]) {
            try FileManager.default.removeItem(at: $0.url("config.json")) },
        Hostile(name: "config is a directory", mentions: ["config.json", "is a directory"]) {
            try FileManager.default.removeItem(at: $0.url("config.json"))
            try FileManager.default.createDirectory(at: $0.url("config.json"), withIntermediateDirectories: false) },
        Hostile(name: "weights missing", mentions: ["model.safetensors", "no model.safetensors"]) {
            try FileManager.default.removeItem(at: $0.url("model.safetensors")) },
        Hostile(name: "truncated weights", mentions: ["model.safetensors", "truncated"]) {
            let data = try Data(contentsOf: $0.url("model.safetensors"))
            try data.prefix(data.count - 1000).write(to: $0.url("model.safetensors")) },
        Hostile(name: "header claims more than the file", mentions: ["model.safetensors", "header length"]) {
            var data = try Data(contentsOf: $0.url("model.safetensors"))
            data.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64(data.count).littleEndian) { Data($0) })
            try data.write(to: $0.url("model.safetensors")) },
        Hostile(name: "overlapping offsets", mentions: ["model.safetensors", "overlaps"]) { surgery in
            var weights = try surgery.readWeights()
            var entry = weights.header["encoder.final_layer_norm.weight"] as! [String: Any]
            let other = weights.range("decoder.final_layer_norm.weight")
            entry["data_offsets"] = [other.lowerBound, other.upperBound]
            weights.header["encoder.final_layer_norm.weight"] = entry
            try surgery.writeWeights(weights) },
        Hostile(name: "NaN weight", mentions: ["model.safetensors", "decoder.final_layer_norm.weight", "NaN"]) { surgery in
            var weights = try surgery.readWeights()
            let start = weights.range("decoder.final_layer_norm.weight").lowerBound + 6
            weights.data.replaceSubrange(start..<(start + 2), with: bf16NaN)
            try surgery.writeWeights(weights) },
        Hostile(name: "tensor of the wrong shape", mentions: ["model.safetensors", "encoder.final_layer_norm.weight", "shape"]) {
            surgery in
            let weights = try surgery.readWeights()
            let bytes = weights.data[weights.range("encoder.final_layer_norm.weight")].prefix(128)
            try surgery.writeWeights(weights.replacing(["encoder.final_layer_norm.weight": ([64], Data(bytes))])) },
        Hostile(name: "tokenizer larger than the model", mentions: ["1000 pieces", "vocab_size is 512"]) { surgery in
            let weights = try surgery.readWeights()
            let rows = 512 * 128 * 2
            let cut = ["shared.weight", "lm_head.weight"].reduce(into: [String: ([Int], Data)]()) {
                $0[$1] = ([512, 128], Data(weights.data[weights.range($1)].prefix(rows)))
            }
            try surgery.writeWeights(weights.replacing(cut.mapValues { (shape: $0.0, bytes: $0.1) }))
            try surgery.editConfig(["vocab_size": 512]) },
        Hostile(name: "no tokenizer", mentions: ["neither spiece.model nor tokenizer.json"]) {
            try FileManager.default.removeItem(at: $0.url("spiece.model"))
            try FileManager.default.removeItem(at: $0.url("tokenizer.json")) },
        Hostile(name: "spiece.model is garbage", mentions: ["spiece.model", "malformed"]) {
            try Data(repeating: 0xFF, count: 64).write(to: $0.url("spiece.model")) },
    ]

    func reload(_ body: String) throws -> (status: Int, error: String) {
        let reply = try server.post("/admin/reload", json: body, headers: ["Authorization": "Bearer admin-token"])
        let error = (reply.json as? [String: Any])?["error"] as? String ?? "<no JSON error: \(reply.text)>"
        return (reply.status, error)
    }

    func testEveryHostileCheckpointIsRefusedAndTheOldModelKeepsServing() throws {
        let before = try server.service.model
        let scores = try server.post("/rerank", json: probe).text
        for hostile in cases {
            let surgery = try CheckpointSurgery.randomModelCopy()
            defer { surgery.remove() }
            try hostile.make(surgery)
            let (status, error) = try reload(#"{"model": "\#(surgery.directory.path)"}"#)
            XCTAssertEqual(status, 422, "\(hostile.name): \(error)")
            for fragment in hostile.mentions {
                XCTAssertTrue(error.contains(fragment), "\(hostile.name): '\(fragment)' not in: \(error)")
            }
            XCTAssertFalse(error.contains("NSCocoaErrorDomain"), error)
            XCTAssertTrue(try server.service.model === before, hostile.name)
            XCTAssertEqual(try server.post("/rerank", json: probe).text, scores, hostile.name)
        }
    }

    func testPathsThatAreNoCheckpoint() throws {
        let before = try server.service.model
        let empty = try reload(#"{"model": ""}"#)
        XCTAssertEqual(empty.status, 422)
        XCTAssertTrue(empty.error.contains("not an empty string"), empty.error)
        let relative = try reload(#"{"model": "Tests/Fixtures/ranking/random_v4"}"#)
        XCTAssertEqual(relative.status, 422)
        XCTAssertTrue(relative.error.contains("must be an absolute path"), relative.error)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("not-a-dir-\(UUID())")
        try Data("x".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let notDirectory = try reload(#"{"model": "\#(file.path)"}"#)
        XCTAssertEqual(notDirectory.status, 422)
        XCTAssertTrue(notDirectory.error.contains("Not a directory"), notDirectory.error)
        XCTAssertTrue(try server.service.model === before)
    }
}
