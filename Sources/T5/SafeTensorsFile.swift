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

/// A memory-mapped safetensors file whose header has been fully validated: every offset pair tiles the data
/// section without holes or overlap, every byte size equals dtype size x shape, and 8 + N + data == file size.
/// The mapping is released on `deinit`, so callers copy what they need and drop the file.
final class SafeTensorsFile {
    let path: String
    let entries: [String: SafeTensorsEntry]
    private let mapping: UnsafeMutableRawPointer
    private let fileSize: Int
    private let dataStart: Int

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw CheckpointError.missingFile(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw CheckpointError.missingFile(path: path, reason: String(cString: strerror(errno)))
        }
        let size = Int(info.st_size)
        guard size >= 8 else {
            throw CheckpointError.malformed(path: path, reason: "file is \(size) bytes, shorter than the 8-byte header length")
        }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw CheckpointError.missingFile(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        do {
            let headerLength = UInt64(littleEndian: mapped.loadUnaligned(as: UInt64.self))
            // The format caps the header at 100 MB; a larger claim is a corrupt or hostile file.
            guard headerLength <= 100_000_000 else {
                throw CheckpointError.malformed(path: path, reason: "header length \(headerLength) is over the format's 100 MB")
            }
            guard headerLength <= UInt64(size - 8) else {
                throw CheckpointError.malformed(
                    path: path, reason: "header length \(headerLength) exceeds the file size \(size) (truncated file?)")
            }
            let headerBytes = Data(bytes: mapped + 8, count: Int(headerLength))
            let dataStart = 8 + Int(headerLength)
            entries = try SafeTensorsFile.parseHeader(headerBytes, dataLength: size - dataStart, path: path)
            self.dataStart = dataStart
        } catch {
            munmap(mapped, size)
            throw error
        }
        mapping = mapped
        fileSize = size
    }

    deinit {
        munmap(mapping, fileSize)
    }

    /// Widens tensor `name` to fp32 into `destination`, which must hold exactly its element count, then drops
    /// the file pages it occupied from this process, so loading never holds the whole file and the block at once.
    func copy(_ name: String, into destination: UnsafeMutablePointer<Float>) {
        let entry = entries[name]!
        entry.dtype.convert(UnsafeRawPointer(mapping + dataStart + entry.begin), count: entry.elementCount, into: destination)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let first = (dataStart + entry.begin + page - 1) / page * page
        let last = (dataStart + entry.end) / page * page
        if last > first {
            madvise(mapping + first, last - first, Int32(MADV_DONTNEED))
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
