import FileReading
import Foundation

/// Fills a parameter block from a Hugging Face checkpoint directory: `model.safetensors`, or
/// `model.safetensors.index.json` plus its shards. Every tensor's presence and shape is checked against the
/// file headers before the block is allocated, so the block is never larger than what the files back.
/// Shards are read one at a time with `pread` straight into the block, so resident memory stays close to it.
struct CheckpointLoader {
    let directory: URL

    /// Tensors HF may store instead of `shared.weight` (they alias it).
    private static let sharedAliases = ["shared.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight"]

    /// Where each layout tensor comes from: file path and tensor name in it, grouped by file.
    struct Plan {
        var files: [(path: String, tensors: [(tensor: T5ParameterLayout.Tensor, source: String)])]
    }

    private var single: URL { directory.appendingPathComponent("model.safetensors") }
    private var index: URL { directory.appendingPathComponent("model.safetensors.index.json") }

    /// Names of every tensor the checkpoint stores (from the headers or the shard index; no data is read).
    func storedTensorNames() throws -> Set<String> {
        if try weightsAreSingleFile() {
            return Set(try SafeTensorsFile(path: single.path).entries.keys)
        }
        return Set(try readWeightMap().keys)
    }

    /// Finds every tensor of `layout` in the file headers and checks its shape; reads no tensor data.
    func plan(_ layout: T5ParameterLayout) throws -> Plan {
        var byFile: [String: [T5ParameterLayout.Tensor]] = [:]
        if try weightsAreSingleFile() {
            byFile[single.path] = layout.tensors
        } else {
            let weightMap = try readWeightMap()
            for tensor in layout.tensors {
                let names = tensor.name == "shared.weight" ? Self.sharedAliases : [tensor.name]
                guard let shard = names.lazy.compactMap({ weightMap[$0] }).first else {
                    throw CheckpointError.missingTensor(path: index.path, tensor: tensor.name)
                }
                guard !shard.contains("/"), shard != "..", shard != "." else {
                    throw CheckpointError.malformed(path: index.path, reason: "shard name '\(shard)' is not a plain file name")
                }
                byFile[directory.appendingPathComponent(shard).path, default: []].append(tensor)
            }
        }
        var plan = Plan(files: [])
        for (path, tensors) in byFile.sorted(by: { $0.key < $1.key }) {
            let file = try SafeTensorsFile(path: path)
            var sources: [(T5ParameterLayout.Tensor, String)] = []
            for tensor in tensors {
                let names = tensor.name == "shared.weight" ? Self.sharedAliases : [tensor.name]
                guard let source = names.first(where: { file.entries[$0] != nil }), let entry = file.entries[source] else {
                    throw CheckpointError.missingTensor(path: path, tensor: tensor.name)
                }
                guard entry.shape == tensor.shape else {
                    throw CheckpointError.wrongShape(path: path, tensor: source, expected: tensor.shape, found: entry.shape)
                }
                sources.append((tensor, source))
            }
            plan.files.append((path, sources))
        }
        return plan
    }

    /// Copies what `plan` found into `block`, widening to fp32, and refuses NaN or infinite weights
    /// (they would turn scores into NaN for some inputs only, long after the load).
    func load(_ plan: Plan, into block: UnsafeMutablePointer<Float>) throws {
        for (path, tensors) in plan.files {
            let file = try SafeTensorsFile(path: path)
            for (tensor, source) in tensors {
                guard let entry = file.entries[source], entry.shape == tensor.shape else {
                    throw CheckpointError.malformed(path: path, reason: "tensor '\(source)' changed while loading")
                }
                let destination = block + tensor.offset
                try file.copy(source, into: destination)
                if let bad = (0..<tensor.count).first(where: { !destination[$0].isFinite }) {
                    throw CheckpointError.nonFiniteWeight(path: path, tensor: source, index: bad)
                }
            }
            try file.checkUnchanged()
        }
    }

    /// True for `model.safetensors`, false for a sharded index; throws when there is neither.
    private func weightsAreSingleFile() throws -> Bool {
        let fileManager = FileManager.default
        if fileManager.fileExists(atPath: single.path) {
            return true
        } else if fileManager.fileExists(atPath: index.path) {
            return false
        } else if fileManager.fileExists(atPath: directory.appendingPathComponent("pytorch_model.bin").path) {
            throw CheckpointError.missingFile(
                path: single.path,
                reason: "only pytorch_model.bin is present; convert the checkpoint to safetensors (pickle is not read)")
        } else {
            throw CheckpointError.missingFile(
                path: single.path, reason: "no model.safetensors or model.safetensors.index.json in \(directory.path)")
        }
    }

    private func readWeightMap() throws -> [String: String] {
        let bytes: [UInt8]
        do {
            bytes = try readRegularFile(index.path, maxBytes: 64 << 20)
        } catch {
            throw CheckpointError.missingFile(path: index.path, reason: error.reason)
        }
        guard let json = try? JSONSerialization.jsonObject(with: Data(bytes)), let object = json as? [String: Any],
              let weightMap = object["weight_map"] as? [String: String]
        else {
            throw CheckpointError.malformed(path: index.path, reason: "expected a JSON object with a string-valued weight_map")
        }
        return weightMap
    }
}
