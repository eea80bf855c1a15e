import Foundation
import XCTest

/// Copies of the random test checkpoint with one thing broken, for the hostile-checkpoint tests.
struct CheckpointSurgery {
    let directory: URL

    /// A fresh copy of Tests/Fixtures/ranking/random_v4 (its files, not the symlink) in a temporary directory.
    static func randomModelCopy() throws -> CheckpointSurgery {
        let source = URL(fileURLWithPath: LiveServer.randomModel).resolvingSymlinksInPath()
        let target = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: target.appendingPathComponent(name))
        }
        return CheckpointSurgery(directory: target)
    }

    func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    /// Sets (or, with nil, deletes) keys of config.json.
    func editConfig(_ changes: [String: Any?]) throws {
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url("config.json"))) as! [String: Any]
        for (key, value) in changes { config[key] = value ?? nil }
        try JSONSerialization.data(withJSONObject: config).write(to: url("config.json"))
    }

    /// The safetensors file as header entries and data section.
    struct Weights {
        var header: [String: Any]
        var data: Data

        func range(_ name: String) -> Range<Int> {
            let offsets = (header[name] as! [String: Any])["data_offsets"] as! [Int]
            return offsets[0]..<offsets[1]
        }

        /// Re-lays every tensor out contiguously, with `replacements` (name: shape and bytes) applied.
        func replacing(_ replacements: [String: (shape: [Int], bytes: Data)]) -> Weights {
            var header: [String: Any] = ["__metadata__": ["format": "pt"]]
            var data = Data()
            for name in self.header.keys.sorted() where name != "__metadata__" {
                var entry = self.header[name] as! [String: Any]
                let bytes = replacements[name]?.bytes ?? self.data[range(name)]
                if let shape = replacements[name]?.shape { entry["shape"] = shape }
                entry["data_offsets"] = [data.count, data.count + bytes.count]
                data.append(bytes)
                header[name] = entry
            }
            return Weights(header: header, data: data)
        }
    }

    func readWeights() throws -> Weights {
        let file = try Data(contentsOf: url("model.safetensors"))
        let length = Int(file.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = try JSONSerialization.jsonObject(with: file.subdata(in: 8..<(8 + length))) as! [String: Any]
        return Weights(header: header, data: file.subdata(in: (8 + length)..<file.count))
    }

    func writeWeights(_ weights: Weights) throws {
        let header = try JSONSerialization.data(withJSONObject: weights.header, options: .sortedKeys)
        var file = Data()
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(header)
        file.append(weights.data)
        try file.write(to: url("model.safetensors"))
    }
}
