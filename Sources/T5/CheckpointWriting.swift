import Foundation

/// Writes fp32 tensors as a safetensors file: 8-byte little-endian header length, the JSON header (padded
/// with spaces to a multiple of 8), then the data in order. Written to a temporary name, synced, renamed.
public func writeSafeTensors(_ tensors: [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)], to url: URL) throws {
    var header: [String: Any] = ["__metadata__": ["format": "pt"]]
    var offset = 0
    for tensor in tensors {
        let bytes = tensor.values.count * MemoryLayout<Float>.size
        header[tensor.name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + bytes]]
        offset += bytes
    }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    json.append(contentsOf: Array(repeating: UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
    var length = UInt64(json.count).littleEndian
    var data = Data(bytes: &length, count: 8)
    data.append(json)
    data.reserveCapacity(data.count + offset)
    for tensor in tensors { data.append(tensor.values) }
    try writeAtomically(data, to: url)
}

public struct CheckpointWriteError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "cannot write \(path): \(reason)" }
}

/// Writes `data` beside `url` under a temporary name, syncs it and renames it over `url`.
public func writeAtomically(_ data: Data, to url: URL) throws {
    let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
    guard FileManager.default.createFile(atPath: temporary.path, contents: data) else {
        throw CheckpointWriteError(path: temporary.path, reason: "cannot be created (missing directory, no space or no permission)")
    }
    let fd = open(temporary.path, O_RDONLY)
    if fd >= 0 { fsync(fd); close(fd) }
    guard rename(temporary.path, url.path) == 0 else {
        throw CheckpointWriteError(path: url.path, reason: String(cString: strerror(errno)))
    }
}

extension T5TrainingModel {
    /// Writes a Hugging Face checkpoint directory: `config.json` (the source's, naming float32 as the dtype)
    /// and the tokenizer files copied from `source`, so transformers 4.x and 5.x read the model as they read
    /// the original, and the current weights as an F32 `model.safetensors` under the checkpoint's tensor names.
    /// The config text with "torch_dtype" and "dtype" set to "float32", everything else untouched (rewriting
    /// the JSON would turn 1.0 into 1, which transformers 5 rejects for float fields).
    static func namingFloat32(_ config: String) -> String {
        var text = config
        var found = false
        for key in ["torch_dtype", "dtype"] {
            let pattern = "\"\(key)\"\\s*:\\s*(\"[^\"]*\"|null)"
            if let range = text.range(of: pattern, options: .regularExpression) {
                text.replaceSubrange(range, with: "\"\(key)\": \"float32\"")
                found = true
            }
        }
        if !found, let brace = text.firstIndex(of: "{") {
            text.insert(contentsOf: "\n  \"torch_dtype\": \"float32\",", at: text.index(after: brace))
        }
        return text
    }

    public func save(to directory: URL, copyingFrom source: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let tensors = layout.tensors.map { tensor in
            (tensor.name, tensor.shape, UnsafeBufferPointer(rebasing: parameters[tensor.offset..<(tensor.offset + tensor.count)]))
        }
        try writeSafeTensors(tensors, to: directory.appendingPathComponent("model.safetensors"))
        // config.json as the source has it, except the dtype it names: the weights are now F32, and
        // transformers 5 casts to the config's dtype when loading by default (bfloat16 would round them).
        let configURL = source.appendingPathComponent("config.json")
        guard let text = try? String(contentsOf: configURL, encoding: .utf8) else {
            throw CheckpointWriteError(path: configURL.path, reason: "cannot be read")
        }
        try writeAtomically(Data(Self.namingFloat32(text).utf8), to: directory.appendingPathComponent("config.json"))
        for name in ["generation_config.json", "spiece.model", "tokenizer.json", "tokenizer_config.json",
                     "special_tokens_map.json"] {
            let from = source.appendingPathComponent(name), to = directory.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: from.path) else { continue }
            try? FileManager.default.removeItem(at: to)
            try FileManager.default.copyItem(at: from, to: to)
        }
    }
}

/// Every tensor of a safetensors file as fp32 values (converted from F16/BF16), by name.
public func readSafeTensors(_ url: URL) throws -> [String: [Float]] {
    let file = try SafeTensorsFile(path: url.path)
    var out: [String: [Float]] = [:]
    for (name, entry) in file.entries {
        var values = [Float](repeating: 0, count: entry.elementCount)
        try values.withUnsafeMutableBufferPointer { try file.copy(name, into: $0.baseAddress!) }
        out[name] = values
    }
    return out
}

extension T5TrainingModel {
    /// Overwrites the parameters with those of `model` (same config), e.g. from a checkpoint.
    public func load(_ model: T5Model) {
        precondition(model.layout.parameterCount == parameters.count, "the checkpoint has another shape")
        _ = parameters.update(fromContentsOf: UnsafeBufferPointer(start: model.parameterBlock, count: parameters.count))
    }
}
