import SentencePiece

/// A limit that can cut a passage, named as the setting that imposes it.
public enum PassageLimit: String, CaseIterable, Sendable {
    /// The template's word cut (`max_passage_words`, e.g. 200 for instructdistill).
    case passageWords = "max_passage_words"
    /// The caller's per-document token cap (Cohere v2's `max_tokens_per_doc`).
    case tokensPerDocument = "max_tokens_per_doc"
    /// The token budget of the whole prompt (`--max-input-tokens`).
    case inputTokens = "max_input_tokens"
}

/// Token ids for one (query, passage) prompt.
public struct EncodedPrompt: Equatable, Sendable {
    public let ids: [Int32]
    /// The limits that cut the passage, in the order they applied; empty when it is whole.
    public let cutBy: [PassageLimit]
    public var truncated: Bool { !cutBy.isEmpty }
}

public enum PromptEncodingError: Error, CustomStringConvertible, Equatable {
    /// The prompt exceeds the budget even with an empty passage: the query itself is too long.
    case queryTooLong(tokens: Int, limit: Int)
    /// The passage had to be cut to fit the token budget and the caller asked for no truncation
    /// (`tokens`: the count of the whole prompt, or of a prefix of it that was already over).
    case passageTooLong(tokens: Int, limit: Int)
    /// The passage has more words than the template keeps and the caller asked for no truncation.
    case passageOverWordLimit(limit: Int, template: String)

    public var description: String {
        switch self {
        case let .queryTooLong(tokens, limit):
            return "the query alone needs \(tokens) tokens with the template, over the limit of \(limit)"
        case let .passageTooLong(tokens, limit):
            return "the prompt needs at least \(tokens) tokens, over the limit of \(limit) (max_input_tokens), "
                + "and truncation is off"
        case let .passageOverWordLimit(limit, template):
            return "it has more than \(limit) words, the most template '\(template)' keeps (max_passage_words), "
                + "and truncation is off"
        }
    }
}

/// Renders a template and tokenizes it within a token budget. Only the passage is ever cut,
/// so the query and the template's tail (the question the model answers) always survive.
public struct PromptEncoder: Sendable {
    public let tokenizer: SentencePieceTokenizer
    public let template: PromptTemplate
    public let maxInputTokens: Int

    public init(tokenizer: SentencePieceTokenizer, template: PromptTemplate, maxInputTokens: Int = 512) {
        self.tokenizer = tokenizer
        self.template = template
        self.maxInputTokens = maxInputTokens
    }

    /// - Parameters:
    ///   - truncate: cut the passage to the template's word limit and to fit `maxInputTokens` (true), or
    ///     throw `passageOverWordLimit` / `passageTooLong` where a cut would be needed (false).
    ///   - maxPassageTokens: an extra cap on the passage's own tokens that the caller asked for; a longer
    ///     passage is cut to it whatever `truncate` says.
    public func encode(query: String, passage: String, truncate: Bool = true, maxPassageTokens: Int? = nil) throws
        -> EncodedPrompt
    {
        var cutBy: [PassageLimit] = []
        let prepared = template.preparePassage(passage)
        var passage = prepared.text
        if prepared.cut {
            guard truncate else {
                throw PromptEncodingError.passageOverWordLimit(limit: template.maxPassageWords ?? 0, template: template.name)
            }
            cutBy.append(.passageWords)
        }
        if let cap = maxPassageTokens, let cut = tokenizer.prefix(of: passage, tokens: cap) {
            passage = cut
            cutBy.append(.tokensPerDocument)
        }
        let probe = Self.charactersProbed(forTokens: maxInputTokens)
        if let overflowing = Self.overflowingPrefix(of: passage, from: probe, tokens: {
            tokenizer.encode(template.render(query: query, passage: $0)).count
        }, limit: maxInputTokens) {
            guard truncate else {
                throw PromptEncodingError.passageTooLong(tokens: overflowing.tokens, limit: maxInputTokens)
            }
            passage = overflowing.prefix  // the cut lies inside it; the rest is never tokenized
        } else {
            let full = tokenizer.encode(template.render(query: query, passage: passage))
            if full.count <= maxInputTokens { return EncodedPrompt(ids: full, cutBy: cutBy) }
            guard truncate else { throw PromptEncodingError.passageTooLong(tokens: full.count, limit: maxInputTokens) }
        }

        let empty = tokenizer.encode(template.render(query: query, passage: ""))
        guard empty.count <= maxInputTokens else {
            throw PromptEncodingError.queryTooLong(tokens: empty.count, limit: maxInputTokens)
        }
        // Re-tokenizing the whole prompt for each candidate cut keeps the ids exactly what the
        // reference tokenizer gives for the final text. Cut at word ends first, then at characters
        // inside the first word that no longer fits.
        let characters = Array(passage)
        let wordEnds = Self.wordEnds(characters)
        var best = empty
        func fits(_ length: Int) -> Bool {
            let ids = tokenizer.encode(template.render(query: query, passage: String(characters[..<length])))
            if ids.count <= maxInputTokens { best = ids; return true }
            return false
        }
        let words = Self.largest(in: 0..<wordEnds.count) { fits(wordEnds[$0]) }
        let fitted = words.map { wordEnds[$0] } ?? 0
        let nextEnd = words.map { $0 + 1 < wordEnds.count ? wordEnds[$0 + 1] : characters.count }
            ?? (wordEnds.first ?? characters.count)
        if nextEnd > fitted + 1 {
            _ = Self.largest(in: (fitted + 1)..<nextEnd) { fits($0) }
        }
        // Successful probes only ever grow, so `best` holds the ids of the longest cut that fits.
        return EncodedPrompt(ids: best, cutBy: cutBy + [.inputTokens])
    }

    /// The shortest of the prefixes of `text` of `start`, 4 x `start`, 16 x `start`, ... characters (shorter
    /// than `text`) whose token count is over `limit`, with that count; nil when none is. Keeps the work
    /// on a long document proportional to what can fit rather than to its length: prefixes only grow
    /// fast enough to tokenize each character a bounded number of times.
    static func overflowingPrefix(of text: String, from start: Int, tokens: (String) -> Int,
                                  limit: Int) -> (prefix: String, tokens: Int)? {
        var length = max(start, 64)
        while let end = text.index(text.startIndex, offsetBy: length, limitedBy: text.endIndex), end < text.endIndex {
            let prefix = String(text[..<end])
            let count = tokens(prefix)
            if count > limit { return (prefix, count) }
            guard length <= Int.max / 4 else { break }
            length *= 4
        }
        return nil
    }

    /// Where the search for an overflowing prefix starts: 4 characters a token, saturating, since the
    /// limit may be a number a client sent.
    static func charactersProbed(forTokens limit: Int) -> Int {
        let (characters, overflow) = limit.multipliedReportingOverflow(by: 4)
        return overflow ? Int.max : characters
    }

    /// Character offsets just past each word, skipping leading whitespace of the passage.
    static func wordEnds(_ characters: [Character]) -> [Int] {
        var ends: [Int] = []
        for index in characters.indices where !characters[index].isWhitespace {
            if index + 1 == characters.count || characters[index + 1].isWhitespace { ends.append(index + 1) }
        }
        return ends
    }

    /// The largest value in `range` for which `fits` holds, assuming it holds on a prefix of the range.
    /// Gallops from the start before bisecting: a probe costs a tokenization of that much text, and the
    /// answer lies near the start of a long document, so a megabyte costs a few short probes, not
    /// twenty of the whole thing.
    static func largest(in range: Range<Int>, where fits: (Int) -> Bool) -> Int? {
        var low = range.lowerBound, high = range.upperBound  // answer in [low - 1, high)
        var found: Int? = nil
        var step = 1
        while low < high {
            let probe = min(low + step - 1, high - 1)
            if fits(probe) {
                found = probe
                low = probe + 1
                step *= 2
            } else {
                high = probe
                break
            }
        }
        while low < high {
            let mid = (low + high) / 2
            if fits(mid) { found = mid; low = mid + 1 } else { high = mid }
        }
        return found
    }
}

extension SentencePieceTokenizer {
    /// The token count of `text` alone, or some count over `limit` when it has more (tokenizing only as
    /// much of a long text as that takes).
    func tokenCount(_ text: String, over limit: Int) -> Int {
        overflowingPrefix(of: text, limit: limit)?.tokens ?? encode(text, appendEOS: false).count
    }

    /// `text` cut to its longest prefix of at most `limit` tokens of its own; nil when it already fits.
    func prefix(of text: String, tokens limit: Int) -> String? {
        let source = overflowingPrefix(of: text, limit: limit)?.prefix ?? text
        guard encode(source, appendEOS: false).count > limit else { return nil }
        let characters = Array(source)
        let kept = PromptEncoder.largest(in: 0..<characters.count) {
            encode(String(characters[..<$0]), appendEOS: false).count <= limit
        } ?? 0
        return String(characters[..<kept])
    }

    /// A prefix of `text` (shorter than it) with more than `limit` tokens, short enough to tokenize cheaply.
    private func overflowingPrefix(of text: String, limit: Int) -> (prefix: String, tokens: Int)? {
        PromptEncoder.overflowingPrefix(of: text, from: PromptEncoder.charactersProbed(forTokens: limit),
                                        tokens: { encode($0, appendEOS: false).count },
                                        limit: limit)
    }
}
