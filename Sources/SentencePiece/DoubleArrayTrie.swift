/// A read-only darts-clone double-array trie, the format of sentencepiece's precompiled
/// normalisation rules. Each 32-bit unit packs a label, a has-leaf flag and the XOR offset of
/// its children; a leaf unit (top bit set) holds the key's value instead.
struct DoubleArrayTrie {
    let units: [UInt32]

    /// The units of a little-endian blob whose size is a multiple of four.
    init(littleEndianBytes bytes: ArraySlice<UInt8>) {
        var units = [UInt32](repeating: 0, count: bytes.count / 4)
        var index = bytes.startIndex
        for k in units.indices {
            units[k] = UInt32(bytes[index]) | UInt32(bytes[index + 1]) << 8
                | UInt32(bytes[index + 2]) << 16 | UInt32(bytes[index + 3]) << 24
            index += 4
        }
        self.units = units
    }

    @inline(__always) private static func offset(_ unit: UInt32) -> Int {
        Int((unit >> 10) << ((unit & (1 << 9)) >> 6))
    }

    @inline(__always) private static func hasLeaf(_ unit: UInt32) -> Bool { (unit >> 8) & 1 == 1 }

    @inline(__always) private static func label(_ unit: UInt32) -> UInt32 { unit & ((1 << 31) | 0xFF) }

    @inline(__always) private static func value(_ unit: UInt32) -> Int { Int(unit & ((1 << 31) - 1)) }

    /// Whether some key starts with `byte`.
    func hasKey(startingWith byte: UInt8) -> Bool {
        guard let root = units.first else { return false }
        let node = Self.offset(root) ^ Int(byte)
        return node < units.count && Self.label(units[node]) == UInt32(byte)
    }

    /// Visits every key that is a prefix of `bytes[start..<end]`, shortest first, as
    /// (key length, value); `visit` returns false to stop. A unit index outside the array
    /// (a corrupt file) ends the search instead of trapping.
    @inline(__always)
    func forEachPrefix(
        of bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int,
        stopAtNUL: Bool, _ visit: (_ length: Int, _ value: Int) -> Bool
    ) {
        let count = units.count
        guard count > 0 else { return }
        units.withUnsafeBufferPointer { array in
            var node = Self.offset(array[0])
            var i = start
            while i < end {
                let byte = bytes[i]
                if stopAtNUL && byte == 0 { return }
                node ^= Int(byte)
                guard node < count else { return }
                let unit = array[node]
                guard Self.label(unit) == UInt32(byte) else { return }
                node ^= Self.offset(unit)
                guard node < count else { return }
                i += 1
                if Self.hasLeaf(unit) {
                    if !visit(i - start, Self.value(array[node])) { return }
                }
            }
        }
    }
}
