import FileReading
import Foundation

/// One tensor's entry in a safetensors header.
struct SafeTensorsEntry: Equatable {
    var dtype: TensorDType
    var shape: [Int]
    /// Byte range relative to the start of the data section.
    var begin: Int
    var end: Int

    var elementCount: Int { shape.reduce(1, *) }
}

/// A safetensors file whose header has been fully validated: every offset pair tiles the data section without
/// holes or overlap, every byte size equals dtype size x shape, and 8 + N + data == file size.
/// Tensors are read with `pread`, not through a mapping: a file that shrinks while it loads (a copy still being
/// written, a volume hiccup) then gives a short read and an error naming it, where a mapping would give SIGBUS
/// and end the process. The descriptor is closed on `deinit`.
final class SafeTensorsFile {
    let path: String
    let entries: [String: SafeTensorsEntry]
    private let fd: Int32
    private let fileSize: Int
    private let dataStart: Int

    init(path: String) throws {
        self.path = path
        let opened: (fd: Int32, size: Int)
        do {
            opened = try openRegularFile(path)
        } catch {
            throw CheckpointError.missingFile(path: path, reason: error.reason)
        }
        let (fd, size) = opened
        do {
            guard size >= 8 else {
                throw CheckpointError.malformed(path: path, reason: "file is \(size) bytes, shorter than the 8-byte header length")
            }
            var lengthBytes = [UInt8](repeating: 0, count: 8)
            try Self.read(fd, into: &lengthBytes, at: 0, path: path)
            let headerLength = lengthBytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
            // The format caps the header at 100 MB; a larger claim is a corrupt or hostile file.
            guard headerLength <= 100_000_000 else {
                throw CheckpointError.malformed(path: path, reason: "header length \(headerLength) is over the format's 100 MB")
            }
            guard headerLength <= UInt64(size - 8) else {
                throw CheckpointError.malformed(
                    path: path, reason: "header length \(headerLength) exceeds the file size \(size) (truncated file?)")
            }
            var headerBytes = [UInt8](repeating: 0, count: Int(headerLength))
            try Self.read(fd, into: &headerBytes, at: 8, path: path)
            let dataStart = 8 + Int(headerLength)
            entries = try SafeTensorsFile.parseHeader(Data(headerBytes), dataLength: size - dataStart, path: path)
            self.dataStart = dataStart
            fileSize = size
        } catch {
            close(fd)
            throw error
        }
        self.fd = fd
    }

    deinit {
        close(fd)
    }

    /// Widens tensor `name` to fp32 into `destination`, which must hold exactly its element count. F32 data is
    /// read straight into `destination`; F16/BF16 through a buffer of the tensor's own size.
    func copy(_ name: String, into destination: UnsafeMutablePointer<Float>) throws {
        let entry = entries[name]!
        let offset = dataStart + entry.begin
        let byteCount = entry.end - entry.begin
        if entry.dtype == .f32 {
            try Self.read(fd, into: UnsafeMutableRawBufferPointer(start: destination, count: byteCount), at: offset,
                          path: path)
        } else {
            var staging = [UInt8](repeating: 0, count: byteCount)
            try Self.read(fd, into: &staging, at: offset, path: path)
            staging.withUnsafeBytes { entry.dtype.convert($0.baseAddress!, count: entry.elementCount, into: destination) }
        }
    }

    /// Throws when the file no longer has the size its header was read at (truncated or grown while loading).
    func checkUnchanged() throws {
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw CheckpointError.missingFile(path: path, reason: String(cString: strerror(errno)))
        }
        guard Int(info.st_size) == fileSize else {
            throw CheckpointError.malformed(path: path, reason: "changed while loading (\(fileSize) bytes, now "
                + "\(info.st_size)); publish a checkpoint only once it is completely written")
        }
    }

    private static func read(_ fd: Int32, into bytes: inout [UInt8], at offset: Int, path: String) throws {
        try bytes.withUnsafeMutableBytes { try read(fd, into: $0, at: offset, path: path) }
    }

    private static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int,
                             path: String) throws {
        do {
            try readExactly(fd, into: buffer, at: offset, path: path)
        } catch {
            throw CheckpointError.malformed(
                path: path, reason: "\(error.reason) while loading; publish a checkpoint only once it is completely written")
        }
    }

    private static func parseHeader(_ bytes: Data, dataLength: Int, path: String) throws -> [String: SafeTensorsEntry] {
        guard let json = try? JSONSerialization.jsonObject(with: bytes), let object = json as? [String: Any] else {
            throw CheckpointError.malformed(path: path, reason: "header is not a JSON object")
        }
        var entries: [String: SafeTensorsEntry] = [:]
        for (name, value) in object where name != "__metadata__" {
            entries[name] = try parseEntry(name: name, value: value, path: path)
        }
        // Offsets must tile [0, dataLength) exactly: sorted by begin, each starts where the previous ended.
        var cursor = 0
        for (name, entry) in entries.sorted(by: { ($0.value.begin, $0.value.end) < ($1.value.begin, $1.value.end) }) {
            if entry.begin != cursor {
                let problem = entry.begin < cursor ? "overlaps the previous tensor" : "leaves a hole before it"
                throw CheckpointError.malformed(
                    path: path, reason: "tensor '\(name)' data_offsets [\(entry.begin), \(entry.end)] \(problem) (expected begin \(cursor))")
            }
            cursor = entry.end
        }
        if cursor != dataLength {
            throw CheckpointError.malformed(
                path: path, reason: "tensors cover \(cursor) data bytes but the file holds \(dataLength) (truncated or padded file)")
        }
        return entries
    }

    private static func parseEntry(name: String, value: Any, path: String) throws -> SafeTensorsEntry {
        guard let fields = value as? [String: Any], let dtypeName = fields["dtype"] as? String,
              let shapeValues = fields["shape"] as? [Any], let offsetValues = fields["data_offsets"] as? [Any],
              offsetValues.count == 2
        else {
            throw CheckpointError.malformed(path: path, reason: "tensor '\(name)' lacks dtype, shape or data_offsets")
        }
        guard let dtype = TensorDType(rawValue: dtypeName) else {
            throw CheckpointError.unsupportedDType(path: path, tensor: name, dtype: dtypeName)
        }
        guard let shape = nonNegativeIntegers(shapeValues), let offsets = nonNegativeIntegers(offsetValues),
              offsets[0] <= offsets[1]
        else {
            throw CheckpointError.malformed(path: path, reason: "tensor '\(name)' has an invalid shape or data_offsets")
        }
        var elements = 1
        for dimension in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw CheckpointError.malformed(path: path, reason: "tensor '\(name)' shape \(shape) is too large")
            }
            elements = product
        }
        let byteCount = offsets[1] - offsets[0]
        let needed = elements.multipliedReportingOverflow(by: dtype.byteSize)
        guard needed == (byteCount, false) else {
            let need = needed.overflow ? "more than 2^63" : "\(needed.partialValue)"
            throw CheckpointError.malformed(
                path: path, reason: "tensor '\(name)' spans \(byteCount) bytes but \(dtypeName) x \(shape) needs \(need)")
        }
        return SafeTensorsEntry(dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
    }

    private static func nonNegativeIntegers(_ values: [Any]) -> [Int]? {
        var result: [Int] = []
        for value in values {
            guard let number = value as? NSNumber, let exact = Int(exactly: number.doubleValue), exact >= 0 else { return nil }
            result.append(exact)
        }
        return result
    }
}
