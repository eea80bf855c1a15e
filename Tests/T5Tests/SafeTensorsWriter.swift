import Foundation
@testable import T5

/// Writes safetensors files for the error tests, including deliberately inconsistent headers.
struct SafeTensorsWriter {
    struct Entry {
        var name: String
        var dtype: String
        var shape: [Int]
        var offsets: (Int, Int)
    }

    /// A valid F32 file of zeros holding `tensors` (name, shape) in order.
    static func zeros(_ tensors: [(name: String, shape: [Int])]) -> Data {
        var entries: [Entry] = []
        var cursor = 0
        for tensor in tensors {
            let bytes = 4 * tensor.shape.reduce(1, *)
            entries.append(Entry(name: tensor.name, dtype: "F32", shape: tensor.shape, offsets: (cursor, cursor + bytes)))
            cursor += bytes
        }
        return file(entries: entries, dataLength: cursor)
    }

    /// header length + JSON header + `dataLength` zero bytes, whatever the entries say.
    static func file(entries: [Entry], dataLength: Int) -> Data {
        let fields = entries.map { entry in
            "\"\(entry.name)\": {\"dtype\": \"\(entry.dtype)\", \"shape\": \(entry.shape), \"data_offsets\": [\(entry.offsets.0), \(entry.offsets.1)]}"
        }
        return file(header: "{\"__metadata__\": {\"format\": \"pt\"}, " + fields.joined(separator: ", ") + "}", dataLength: dataLength)
    }

    static func file(header: String, dataLength: Int) -> Data {
        var data = Data()
        let headerBytes = Data(header.utf8)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(headerBytes)
        data.append(Data(count: dataLength))
        return data
    }
}
