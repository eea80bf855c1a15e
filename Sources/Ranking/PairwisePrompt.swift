import SentencePiece

/// The pairwise ranking prompt (PRP) of the teacher: which of two passages is more relevant to a query.
/// The model reads the prompt, the decoder is fed `[start, ▁passage]`, and the logits of `▁A` and `▁B` at
/// the last decoder position say which passage it prefers.
public struct PairwisePrompt: Sendable {
    public static let text = "Question: Given a query \"{query}\", which of the following two passages is more "
        + "relevant to the query?\n\npassage A: {a}\n\npassage B: {b}\n\nOutput the identifier of the more "
        + "relevant passage. The answer must be passage A or passage B.\nAnswer:"
    /// What the decoder is fed after its start token; an endpoint gets it appended to the prompt instead.
    public static let answerPrefixPiece = "▁passage"
    public static let answerPieces = (a: "▁A", b: "▁B")
    /// Both passages are cut to their first 100 whitespace-separated words, as the reference code does.
    public static let maxPassageWords = 100

    public let tokenizer: SentencePieceTokenizer
    public let maxInputTokens: Int
    /// Vocabulary ids of `▁passage`, `▁A`, `▁B`.
    public let prefixID: Int32, aID: Int32, bID: Int32

    public init(tokenizer: SentencePieceTokenizer, maxInputTokens: Int = 512) throws {
        func id(_ piece: String) throws -> Int32 {
            guard let id = tokenizer.id(ofPiece: piece) else {
                throw TemplateError.missingPiece(template: "prp", piece: piece)
            }
            return id
        }
        self.tokenizer = tokenizer
        self.maxInputTokens = maxInputTokens
        self.prefixID = try id(Self.answerPrefixPiece)
        self.aID = try id(Self.answerPieces.a)
        self.bID = try id(Self.answerPieces.b)
    }

    /// The prompt text with both passages already cut to `maxPassageWords`. Placeholders are filled in one
    /// pass, so a query holding "{a}" stays literal.
    public static func render(query: String, a: String, b: String) -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            let close = rest[open...].firstIndex(of: "}")!
            switch rest[rest.index(after: open)..<close] {
            case "query": out += query
            case "a": out += a
            default: out += b
            }
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }

    /// A passage as the prompt holds it: its first 100 words joined by single spaces.
    public static func cut(_ passage: String) -> String {
        firstWords(of: passage, limit: maxPassageWords).text
    }

    /// Token ids (ending in eos) of the prompt with `a` as passage A and `b` as passage B, both already
    /// `cut`. Within `maxInputTokens`: if 200 words do not fit, the passages are cut further, each keeping
    /// at least half of what the template leaves free (a short passage leaves the rest to the other).
    public func encode(query: String, a: String, b: String) throws -> [Int32] {
        let full = tokenizer.encode(Self.render(query: query, a: a, b: b))
        if full.count <= maxInputTokens { return full }
        let empty = tokenizer.encode(Self.render(query: query, a: "", b: ""))
        guard empty.count < maxInputTokens else {
            throw PromptEncodingError.queryTooLong(tokens: empty.count, limit: maxInputTokens)
        }
        let free = maxInputTokens - empty.count
        let lengths = (a: tokenizer.tokenCount(a, over: free), b: tokenizer.tokenCount(b, over: free))
        // A passage's tokens in context can differ from its tokens alone by a piece at the seams, so the
        // budget shrinks until the whole prompt fits.
        var budget = free
        while budget > 0 {
            let half = budget / 2
            let capA = lengths.a <= half ? lengths.a : lengths.b <= half ? budget - lengths.b : half
            let ids = tokenizer.encode(Self.render(query: query, a: tokenizer.prefix(of: a, tokens: capA) ?? a,
                                                   b: tokenizer.prefix(of: b, tokens: budget - capA) ?? b))
            if ids.count <= maxInputTokens { return ids }
            budget -= ids.count - maxInputTokens
        }
        return empty
    }
}
