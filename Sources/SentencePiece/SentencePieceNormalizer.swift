/// sentencepiece's Normalizer: rewrites text with the precompiled rules (longest match over
/// UTF-8 bytes), keeps user-defined symbols verbatim, drops leading, trailing and repeated
/// spaces, turns spaces into `▁` and prefixes one `▁`, each step governed by `NormalizerSpec`.
struct SentencePieceNormalizer: Sendable {
    static let spaceSymbol: [UInt8] = Array("▁".utf8)

    var charsMap: PrecompiledCharsMap?
    /// User-defined pieces, matched before the rules and copied unchanged.
    var userDefined: PieceTrie?
    var addDummyPrefix: Bool
    var removeExtraWhitespaces: Bool
    var escapeWhitespaces: Bool

    /// Where a normalised unit's bytes live: in the input, or in the rules' replacement table.
    enum Source { case input, replacements }

    /// The normalised form of the first unit of `input[start..<end]` (a user-defined symbol, the
    /// longest rule, or one character) and how many input bytes it consumes.
    @inline(__always)
    private func normalizePrefix(
        _ input: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int
    ) -> (source: Source, range: Range<Int>, consumed: Int) {
        if let userDefined, let match = userDefined.longestMatch(input, from: start, to: end) {
            return (.input, start..<match.end, match.end - start)
        }
        if let charsMap, let rule = charsMap.longestMatch(input, from: start, to: end) {
            return (.replacements, rule.replacement, rule.length)
        }
        // Swift strings are valid UTF-8, so sentencepiece's malformed-byte branch cannot occur.
        let length = min(utf8_char_length(input[start]), end - start)
        return (.input, start..<(start + length), length)
    }

    /// Appends the normalised bytes of `input` to `output`.
    func normalize(_ input: UnsafeBufferPointer<UInt8>, into output: inout [UInt8]) {
        let end = input.count
        var position = 0
        let space = UInt8(ascii: " ")
        let replacements = charsMap?.replacements ?? []
        if removeExtraWhitespaces {
            while position < end {
                let unit = normalizePrefix(input, from: position, to: end)
                let isSpace = unit.range.count == 1
                    && (unit.source == .input ? input[unit.range.lowerBound] : replacements[unit.range.lowerBound]) == space
                guard isSpace else { break }
                position += unit.consumed
            }
        }
        guard position < end else { return }
        let outputStart = output.count
        if addDummyPrefix { appendSpace(to: &output) }
        var previousWasSpace = removeExtraWhitespaces
        replacements.withUnsafeBufferPointer { replacements in
            while position < end {
                let unit = normalizePrefix(input, from: position, to: end)
                let bytes = unit.source == .input ? input : replacements
                var k = unit.range.lowerBound
                if previousWasSpace {
                    while k < unit.range.upperBound && bytes[k] == space { k += 1 }
                }
                if k < unit.range.upperBound {
                    while k < unit.range.upperBound {
                        if bytes[k] == space { appendSpace(to: &output) } else { output.append(bytes[k]) }
                        k += 1
                    }
                    previousWasSpace = bytes[unit.range.upperBound - 1] == space
                }
                position += unit.consumed
                if !removeExtraWhitespaces { previousWasSpace = false }
            }
        }
        if removeExtraWhitespaces {
            let trailing: [UInt8] = escapeWhitespaces ? Self.spaceSymbol : [space]
            while output.count - outputStart >= trailing.count && output.suffix(trailing.count).elementsEqual(trailing) {
                output.removeLast(trailing.count)
            }
        }
    }

    @inline(__always)
    private func appendSpace(to output: inout [UInt8]) {
        if escapeWhitespaces {
            output.append(contentsOf: Self.spaceSymbol)
        } else {
            output.append(UInt8(ascii: " "))
        }
    }
}
