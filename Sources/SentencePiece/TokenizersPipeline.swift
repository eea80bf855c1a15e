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

    /// Splits a normalised segment into the words the model encodes one by one.
    func words(of normalized: [UInt8], segmentIsFirst: Bool) -> [[UInt8]] {
        guard let metaspace else { return normalized.isEmpty ? [] : [normalized] }
        let pieces = whitespaceSplit ? whitespace_split(normalized) : [normalized]
        var words: [[UInt8]] = []
        for (index, piece) in pieces.enumerated() {
            var text: [UInt8] = []
            text.reserveCapacity(piece.count + 3)
            for byte in piece {
                if byte == UInt8(ascii: " ") { text.append(contentsOf: metaspace.replacement) } else { text.append(byte) }
            }
            let prepend: Bool
            switch metaspace.prependScheme {
            case .always: prepend = true
            case .first: prepend = segmentIsFirst && index == 0
            case .never: prepend = false
            }
            // `tokenizers` prepends nothing to an empty string.
            if prepend && !text.isEmpty && !text.starts(with: metaspace.replacement) {
                text.insert(contentsOf: metaspace.replacement, at: 0)
            }
            if metaspace.split {
                split_merged_with_next(text, delimiter: metaspace.replacement, into: &words)
            } else if !text.isEmpty {
                words.append(text)
            }
        }
        return words
    }
}

/// The `tokenizers` Precompiled normaliser: per extended grapheme cluster shorter than six
/// bytes, the shortest rule that prefixes the cluster replaces the whole cluster; otherwise each
/// character is replaced by its own rule or kept.
func precompiled_normalize(text: [UInt8], map: PrecompiledCharsMap) -> [UInt8] {
    let string = String(decoding: text, as: UTF8.self)
    var output: [UInt8] = []
    output.reserveCapacity(text.count)
    text.withUnsafeBufferPointer { bytes in
        map.replacements.withUnsafeBufferPointer { replacements in
            var offset = 0
            for character in string {
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
    }
    return output
}

/// Removes leading and/or trailing Unicode White_Space characters (Rust's `char::is_whitespace`).
func strip_whitespace(_ bytes: inout [UInt8], left: Bool, right: Bool) {
    var string = String(decoding: bytes, as: UTF8.self).unicodeScalars[...]
    if right {
        while let last = string.last, last.properties.isWhitespace { string.removeLast() }
    }
    if left {
        while let first = string.first, first.properties.isWhitespace { string.removeFirst() }
    }
    bytes = Array(String(String.UnicodeScalarView(string)).utf8)
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

/// `WhitespaceSplit`: the maximal runs of non-whitespace characters.
func whitespace_split(_ bytes: [UInt8]) -> [[UInt8]] {
    var pieces: [[UInt8]] = []
    var current: [UInt8] = []
    for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
        if scalar.properties.isWhitespace {
            if !current.isEmpty { pieces.append(current) }
            current = []
        } else {
            current.append(contentsOf: String(scalar).utf8)
        }
    }
    if !current.isEmpty { pieces.append(current) }
    return pieces
}

/// Splits before each occurrence of `delimiter` (`SplitDelimiterBehavior::MergedWithNext`),
/// dropping empty pieces.
func split_merged_with_next(_ bytes: [UInt8], delimiter: [UInt8], into words: inout [[UInt8]]) {
    var start = 0
    var i = 0
    while i < bytes.count {
        if bytes[i] == delimiter[0], bytes.count - i >= delimiter.count,
           bytes[i..<(i + delimiter.count)].elementsEqual(delimiter) {
            if i > start { words.append(Array(bytes[start..<i])) }
            start = i
            i += delimiter.count
        } else {
            i += 1
        }
    }
    if bytes.count > start { words.append(Array(bytes[start...])) }
}
