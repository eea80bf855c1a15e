import Foundation

/// Fills a parameter block from a Hugging Face checkpoint directory: `model.safetensors`, or
/// `model.safetensors.index.json` plus its shards. Shards are mapped one at a time and unmapped once copied,
/// so resident memory stays close to the fp32 block itself.
struct CheckpointLoader {
    let directory: URL

    /// Tensors HF may store instead of `shared.weight` (they alias it).
    private static let sharedAliases = ["shared.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight"]

    private var single: URL { directory.appendingPathComponent("model.safetensors") }
    private var index: URL { directory.appendingPathComponent("model.safetensors.index.json") }

    /// Names of every tensor the checkpoint stores (from the headers or the shard index; no data is read).
    func storedTensorNames() throws -> Set<String> {
        if try weightsAreSingleFile() {
            return Set(try SafeTensorsFile(path: single.path).entries.keys)
        }
        return Set(try readWeightMap(index).keys)
    }

    func load(_ layout: T5ParameterLayout, into block: UnsafeMutablePointer<Float>) throws {
        if try weightsAreSingleFile() {
            let file = try SafeTensorsFile(path: single.path)
            try copy(layout.tensors, from: file, into: block)
        } else {
            try loadSharded(layout, into: block)
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

    private func loadSharded(_ layout: T5ParameterLayout, into block: UnsafeMutablePointer<Float>) throws {
        let weightMap = try readWeightMap(index)
        var byShard: [String: [T5ParameterLayout.Tensor]] = [:]
        for tensor in layout.tensors {
            let names = tensor.name == "shared.weight" ? Self.sharedAliases : [tensor.name]
            guard let shard = names.lazy.compactMap({ weightMap[$0] }).first else {
                throw CheckpointError.missingTensor(path: index.path, tensor: tensor.name)
            }
            byShard[shard, default: []].append(tensor)
        }
        for (shard, tensors) in byShard.sorted(by: { $0.key < $1.key }) {
            guard !shard.contains("/") else {
                throw CheckpointError.malformed(path: index.path, reason: "shard name '\(shard)' is not a plain file name")
            }
            let file = try SafeTensorsFile(path: directory.appendingPathComponent(shard).path)
            try copy(tensors, from: file, into: block)
        }
    }

    private func readWeightMap(_ index: URL) throws -> [String: String] {
        let data: Data
        do {
            data = try Data(contentsOf: index)
        } catch {
            throw CheckpointError.missingFile(path: index.path, reason: error.localizedDescription)
        }
        guard let json = try? JSONSerialization.jsonObject(with: data), let object = json as? [String: Any],
              let weightMap = object["weight_map"] as? [String: String]
        else {
            throw CheckpointError.malformed(path: index.path, reason: "expected a JSON object with a string-valued weight_map")
        }
        return weightMap
    }

    /// Checks every tensor's presence and shape before copying any, then widens each into its slot.
    private func copy(_ tensors: [T5ParameterLayout.Tensor], from file: SafeTensorsFile,
                      into block: UnsafeMutablePointer<Float>) throws {
        var sources: [String] = []
        for tensor in tensors {
            let names = tensor.name == "shared.weight" ? Self.sharedAliases : [tensor.name]
            guard let source = names.first(where: { file.entries[$0] != nil }), let entry = file.entries[source] else {
                throw CheckpointError.missingTensor(path: file.path, tensor: tensor.name)
            }
            guard entry.shape == tensor.shape else {
                throw CheckpointError.wrongShape(path: file.path, tensor: source, expected: tensor.shape, found: entry.shape)
            }
            sources.append(source)
        }
        for (tensor, source) in zip(tensors, sources) {
            file.copy(source, into: block + tensor.offset)
        }
    }
}
