/// A cursor over protobuf wire-format bytes. It knows only the encodings that `ModelProto`
/// uses (varint, 32-bit, length-delimited) and can skip the 64-bit one.
struct WireFormatReader {
    enum WireType: UInt64 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case fixed32 = 5
    }

    let bytes: [UInt8]
    private(set) var position: Int
    let end: Int

    init(bytes: [UInt8], range: Range<Int>) {
        self.bytes = bytes
        self.position = range.lowerBound
        self.end = range.upperBound
    }

    var isAtEnd: Bool { position >= end }

    /// The next field number and wire type.
    mutating func readTag() throws -> (field: Int, type: WireType) {
        let key = try readVarint()
        let field = key >> 3
        guard field > 0, field < (1 << 29) else {
            throw FormatError(reason: "invalid field number \(field) at byte \(position)")
        }
        guard let type = WireType(rawValue: key & 7) else {
            throw FormatError(reason: "unsupported wire type \(key & 7) for field \(field)")
        }
        return (Int(field), type)
    }

    mutating func readVarint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw FormatError(reason: "truncated varint at byte \(position)") }
            guard shift < 64 else { throw FormatError(reason: "varint longer than 10 bytes at byte \(position)") }
            let byte = bytes[position]
            position += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// A varint holding an `int32` (negative values are sign-extended to ten bytes on the wire).
    mutating func readInt32() throws -> Int32 {
        Int32(truncatingIfNeeded: try readVarint())
    }

    mutating func readBool() throws -> Bool {
        try readVarint() != 0
    }

    mutating func readFloat() throws -> Float {
        guard end - position >= 4 else { throw FormatError(reason: "truncated float at byte \(position)") }
        var bits: UInt32 = 0
        for k in 0..<4 { bits |= UInt32(bytes[position + k]) << (8 * UInt32(k)) }
        position += 4
        return Float(bitPattern: bits)
    }

    /// The byte range of a length-delimited field's payload.
    mutating func readLengthDelimited() throws -> Range<Int> {
        let length = try readVarint()
        guard length <= UInt64(end - position) else {
            throw FormatError(reason: "length \(length) at byte \(position) runs past the end of its message")
        }
        let start = position
        position += Int(length)
        return start..<position
    }

    mutating func readString() throws -> String {
        let range = try readLengthDelimited()
        guard let text = String(validating: bytes[range], as: UTF8.self) else {
            throw FormatError(reason: "string at byte \(range.lowerBound) is not valid UTF-8")
        }
        return text
    }

    mutating func skip(_ type: WireType) throws {
        switch type {
        case .varint: _ = try readVarint()
        case .lengthDelimited: _ = try readLengthDelimited()
        case .fixed32, .fixed64:
            let width = type == .fixed32 ? 4 : 8
            guard end - position >= width else { throw FormatError(reason: "truncated fixed field at byte \(position)") }
            position += width
        }
    }

    /// Throws unless the field arrived with the wire type its schema declares.
    func expect(_ type: WireType, is expected: WireType, field: String) throws {
        guard type == expected else {
            throw FormatError(reason: "field \(field) has wire type \(type.rawValue), expected \(expected.rawValue)")
        }
    }
}
