/// The steps of a `tokenizer.json` that this module reproduces, in the `tokenizers` library's
/// semantics (which differ from sentencepiece on edge cases, e.g. graphemes and added tokens).
struct TokenizersPipeline: Sendable {
    enum NormalizerStep: Sendable {
        case precompiled(PrecompiledCharsMap)
        case strip(left: Bool, right: Bool)
        case replace(pattern: ReplacePattern, content: [UInt8])
    }

    /// The `Replace` patterns supported: a literal string, or a regex `c{n,}` over one ASCII character.
    enum ReplacePattern: Sendable {
        case literal([UInt8])
        case repeated(byte: UInt8, minimum: Int)
    }

    enum PrependScheme: Sendable { case always, first, never }

    struct Metaspace: Sendable {
        var replacement: [UInt8]
        var prependScheme: PrependScheme
        var split: Bool
    }

    var normalizers: [NormalizerStep]
    /// `WhitespaceSplit` before `Metaspace` (the layout older T5 converters wrote).
    var whitespaceSplit: Bool
    var metaspace: Metaspace?
}

extension TokenizersPipeline {
    /// Applies the normaliser steps to one segment of input (text between added tokens).
    func normalize(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var bytes = Array(text)
        for step in normalizers {
            switch step {
            case let .precompiled(map):
                bytes = precompiled_normalize(text: bytes, map: map)
            case let .strip(left, right):
                strip_whitespace(&bytes, left: left, right: right)
            case let .replace(pattern, content):
                bytes = replace_pattern(bytes, pattern: pattern, content: content)
            }
        }
        return bytes
    }

    /// Splits a normalised segment into the words the model encodes one by one, as byte ranges
    /// of the returned pre-tokenised text.
    func words(of normalized: [UInt8], segmentIsFirst: Bool) -> (text: [UInt8], words: [Range<Int>]) {
        guard let metaspace else { return (normalized, normalized.isEmpty ? [] : [0..<normalized.count]) }
        let pieces = whitespaceSplit ? whitespace_split(normalized) : [0..<normalized.count]
        var text: [UInt8] = []
        text.reserveCapacity(normalized.count + normalized.count / 4 + 3)
        var words: [Range<Int>] = []
        for (index, piece) in pieces.enumerated() {
            let start = text.count
            let prepend: Bool
            switch metaspace.prependScheme {
            case .always: prepend = true
            case .first: prepend = segmentIsFirst && index == 0
            case .never: prepend = false
            }
            // `tokenizers` prepends nothing to an empty string, nor to one starting with the replacement
            // (a leading space becomes one).
            let first = normalized[piece].first
            if prepend, let first, first != UInt8(ascii: " "), !normalized[piece].starts(with: metaspace.replacement) {
                text.append(contentsOf: metaspace.replacement)
            }
            for byte in normalized[piece] {
                if byte == UInt8(ascii: " ") { text.append(contentsOf: metaspace.replacement) } else { text.append(byte) }
            }
            if metaspace.split {
                split_merged_with_next(text, start..<text.count, delimiter: metaspace.replacement, into: &words)
            } else if text.count > start {
                words.append(start..<text.count)
            }
        }
        return (text, words)
    }
}

/// The `tokenizers` Precompiled normaliser: per extended grapheme cluster shorter than six
/// bytes, the shortest rule that prefixes the cluster replaces the whole cluster; otherwise each
/// character is replaced by its own rule or kept.
func precompiled_normalize(text: [UInt8], map: PrecompiledCharsMap) -> [UInt8] {
    var output: [UInt8] = []
    output.reserveCapacity(text.count)
    text.withUnsafeBufferPointer { bytes in
        map.replacements.withUnsafeBufferPointer { replacements in
            let count = bytes.count
            // An ASCII character followed by another ASCII character (CR LF aside) is a cluster of its
            // own, so the cluster rule and the character rule coincide: no segmentation needed.
            func isLoneASCII(_ i: Int) -> Bool {
                bytes[i] < 0x80 && (i + 1 == count || (bytes[i + 1] < 0x80 && !(bytes[i] == 0x0D && bytes[i + 1] == 0x0A)))
            }
            var i = 0
            while i < count {
                if isLoneASCII(i) {
                    if let rule = map.shortestMatchReplacement(bytes, from: i, to: i + 1) {
                        output.append(contentsOf: replacements[rule])
                    } else {
                        output.append(bytes[i])
                    }
                    i += 1
                    continue
                }
                // Segment up to the next lone ASCII character that follows an ASCII one: a cluster
                // boundary always precedes it (ASCII is neither Prepend nor Extend).
                var end = i + 1
                while end < count && !(bytes[end - 1] < 0x80 && isLoneASCII(end) && bytes[end - 1] != 0x0D) { end += 1 }
                precompiled_normalize_clusters(bytes, i..<end, map: map, replacements: replacements, into: &output)
                i = end
            }
        }
    }
    return output
}

/// The cluster-by-cluster path of `precompiled_normalize` over `range`, which starts and ends on
/// cluster boundaries.
private func precompiled_normalize_clusters(
    _ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, map: PrecompiledCharsMap,
    replacements: UnsafeBufferPointer<UInt8>, into output: inout [UInt8]
) {
    var offset = range.lowerBound
    for character in String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self) {
        let end = offset + character.utf8.count
        if end - offset < 6, let rule = map.shortestMatchReplacement(bytes, from: offset, to: end) {
            output.append(contentsOf: replacements[rule])
            offset = end
            continue
        }
        for scalar in character.unicodeScalars {
            let scalarEnd = offset + UTF8.width(scalar)
            if let rule = map.shortestMatchReplacement(bytes, from: offset, to: scalarEnd) {
                output.append(contentsOf: replacements[rule])
            } else {
                output.append(contentsOf: bytes[offset..<scalarEnd])
            }
            offset = scalarEnd
        }
    }
}

/// Removes leading and/or trailing Unicode White_Space characters (Rust's `char::is_whitespace`).
func strip_whitespace(_ bytes: inout [UInt8], left: Bool, right: Bool) {
    func isWhitespace(_ range: Range<Int>) -> Bool {
        String(decoding: bytes[range], as: UTF8.self).unicodeScalars.first?.properties.isWhitespace ?? false
    }
    if right {
        var end = bytes.count
        while end > 0 {
            var start = end - 1
            while start > 0 && bytes[start] & 0xC0 == 0x80 { start -= 1 }
            guard isWhitespace(start..<end) else { break }
            end = start
        }
        bytes.removeSubrange(end...)
    }
    if left {
        var start = 0
        while start < bytes.count {
            let end = min(start + utf8_char_length(bytes[start]), bytes.count)
            guard isWhitespace(start..<end) else { break }
            start = end
        }
        bytes.removeSubrange(..<start)
    }
}

/// Replaces every leftmost non-overlapping match of `pattern` with `content`.
func replace_pattern(_ bytes: [UInt8], pattern: TokenizersPipeline.ReplacePattern, content: [UInt8]) -> [UInt8] {
    var output: [UInt8] = []
    output.reserveCapacity(bytes.count)
    var i = 0
    switch pattern {
    case let .literal(needle):
        guard !needle.isEmpty else { return bytes }
        while i < bytes.count {
            if bytes[i] == needle[0], bytes.count - i >= needle.count, bytes[i..<(i + needle.count)].elementsEqual(needle) {
                output.append(contentsOf: content)
                i += needle.count
            } else {
                output.append(bytes[i])
                i += 1
            }
        }
    case let .repeated(byte, minimum):
        while i < bytes.count {
            var run = i
            while run < bytes.count && bytes[run] == byte { run += 1 }
            if run - i >= minimum && run > i {
                output.append(contentsOf: content)
                i = run
            } else if run > i {
                output.append(contentsOf: bytes[i..<run])
                i = run
            } else {
                output.append(bytes[i])
                i += 1
            }
        }
    }
    return output
}

/// `WhitespaceSplit`: the maximal runs of non-whitespace characters, as byte ranges.
func whitespace_split(_ bytes: [UInt8]) -> [Range<Int>] {
    var pieces: [Range<Int>] = []
    var start = 0
    var offset = 0
    for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
        let end = offset + UTF8.width(scalar)
        if scalar.properties.isWhitespace {
            if offset > start { pieces.append(start..<offset) }
            start = end
        }
        offset = end
    }
    if offset > start { pieces.append(start..<offset) }
    return pieces
}

/// Splits `bytes[range]` before each occurrence of `delimiter`
/// (`SplitDelimiterBehavior::MergedWithNext`), dropping empty pieces.
func split_merged_with_next(_ bytes: [UInt8], _ range: Range<Int>, delimiter: [UInt8], into words: inout [Range<Int>]) {
    var start = range.lowerBound
    var i = range.lowerBound
    while i < range.upperBound {
        if bytes[i] == delimiter[0], range.upperBound - i >= delimiter.count,
           bytes[i..<(i + delimiter.count)].elementsEqual(delimiter) {
            if i > start { words.append(start..<i) }
            start = i
            i += delimiter.count
        } else {
            i += 1
        }
    }
    if range.upperBound > start { words.append(start..<range.upperBound) }
}
