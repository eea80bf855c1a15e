/// sentencepiece's precompiled normalisation rules (`normalizer_spec.precompiled_charsmap`,
/// e.g. nmt_nfkc): a little-endian UInt32 trie size, a double-array trie whose keys are UTF-8
/// sequences, then NUL-terminated replacement strings that the trie values index.
struct PrecompiledCharsMap {
    let trie: DoubleArrayTrie
    let replacements: [UInt8]
    /// Whether any rule starts with each byte: most text (ASCII letters) needs no trie walk.
    private let ruleStarts: [Bool]

    init(blob: [UInt8]) throws {
        guard blob.count > 4 else {
            throw FormatError(reason: "precompiled_charsmap of \(blob.count) bytes is too short")
        }
        let trieSize = Int(UInt32(blob[0]) | UInt32(blob[1]) << 8 | UInt32(blob[2]) << 16 | UInt32(blob[3]) << 24)
        guard trieSize < blob.count - 4, trieSize % 4 == 0 else {
            throw FormatError(reason: "precompiled_charsmap trie size \(trieSize) does not fit its \(blob.count)-byte blob")
        }
        trie = DoubleArrayTrie(littleEndianBytes: blob[4..<(4 + trieSize)])
        replacements = Array(blob[(4 + trieSize)...])
        let trie = self.trie
        ruleStarts = (0...255).map { trie.hasKey(startingWith: UInt8($0)) }
    }

    /// The replacement bytes starting at `value`, up to the next NUL; nil for a value outside
    /// the table (a corrupt file), which callers treat as no rule.
    func replacement(at value: Int) -> Range<Int>? {
        guard value < replacements.count else { return nil }
        var end = value
        while end < replacements.count && replacements[end] != 0 { end += 1 }
        return value..<end
    }

    /// The longest rule matching at `start`, as sentencepiece's normalizer picks it.
    @inline(__always)
    func longestMatch(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> (length: Int, replacement: Range<Int>)? {
        guard ruleStarts[Int(bytes[start])] else { return nil }
        var best: (Int, Int)?
        trie.forEachPrefix(of: bytes, from: start, to: end, stopAtNUL: false) { length, value in
            best = (length, value)
            return true
        }
        guard let (length, value) = best, let range = replacement(at: value) else { return nil }
        return (length, range)
    }

    /// The replacement for the shortest rule that prefixes `bytes[start..<end]`: the `tokenizers`
    /// library applies it to the whole chunk (a grapheme or a character), whatever its length.
    func shortestMatchReplacement(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Range<Int>? {
        var first: Int?
        trie.forEachPrefix(of: bytes, from: start, to: end, stopAtNUL: true) { _, value in
            first = value
            return false
        }
        guard let value = first else { return nil }
        return replacement(at: value)
    }
}
