import Foundation

/// How a template turns first-step decoder logits into a relevance score.
public enum ScoreRule: Equatable, Sendable {
    /// The raw logit of one token.
    case logit(piece: String)
    /// log P(positive) under a softmax over the two logits [negative, positive].
    case logSoftmax(positive: String, negative: String)

    /// The pieces whose logits the rule reads, in the order `rawScore(logits:)` expects them.
    public var pieces: [String] {
        switch self {
        case let .logit(piece): return [piece]
        case let .logSoftmax(positive, negative): return [negative, positive]
        }
    }

    /// The template's raw score from the logits of `pieces`.
    public func rawScore(logits: [Float]) -> Float {
        switch self {
        case .logit:
            return logits[0]
        case .logSoftmax:
            let negative = logits[0], positive = logits[1]
            let top = max(negative, positive)
            // Subtract the max before adding back, so large logits keep their precision.
            return (positive - top) - log(exp(negative - top) + exp(positive - top))
        }
    }

    /// d(rawScore) / d(logits), in `pieces` order: what training sends back through the model.
    public func rawScoreGradient(logits: [Float]) -> [Float] {
        switch self {
        case .logit:
            return [1]
        case .logSoftmax:
            // score = positive - logsumexp(negative, positive)
            let negative = logits[0], positive = logits[1]
            let top = max(negative, positive)
            let pNegative = exp(negative - top) / (exp(negative - top) + exp(positive - top))
            return [-pNegative, pNegative]
        }
    }

    /// The raw score as a probability in [0, 1]: sigmoid of a logit, or P(positive).
    public func probability(rawScore: Float) -> Float {
        switch self {
        case .logit: return 1 / (1 + exp(-rawScore))
        case .logSoftmax: return exp(rawScore)
        }
    }
}

/// A pointwise prompt: text with `{query}` and `{passage}` placeholders and its scoring rule.
public struct PromptTemplate: Equatable, Sendable {
    public let name: String
    public let text: String
    /// The passage is cut to this many whitespace-separated words before prompting (nil: no cut).
    public let maxPassageWords: Int?
    public let rule: ScoreRule
    let segments: [Segment]

    enum Segment: Equatable, Sendable {
        case literal(String)
        case query
        case passage
    }

    public init(name: String, text: String, maxPassageWords: Int? = nil, rule: ScoreRule) throws {
        if let limit = maxPassageWords, limit < 1 {
            throw TemplateError.invalid(name: name, reason: "max_passage_words must be at least 1, got \(limit)")
        }
        for piece in rule.pieces where piece.isEmpty {
            throw TemplateError.invalid(name: name, reason: "score tokens must be non-empty piece strings")
        }
        self.name = name
        self.text = text
        self.maxPassageWords = maxPassageWords
        self.rule = rule
        self.segments = try Self.parse(text, name: name)
    }

    /// The prompt for one pair. Placeholders are filled in one pass, so a query containing
    /// "{passage}" stays literal text.
    public func render(query: String, passage: String) -> String {
        var out = ""
        for segment in segments {
            switch segment {
            case let .literal(text): out += text
            case .query: out += query
            case .passage: out += passage
            }
        }
        return out
    }

    /// The passage as the template sees it: cut to `maxPassageWords` words when set (whitespace is then
    /// normalised too, as the reference code does). `cut` is true only when words were dropped.
    public func preparePassage(_ passage: String) -> (text: String, cut: Bool) {
        guard let limit = maxPassageWords else { return (passage, false) }
        return firstWords(of: passage, limit: limit)
    }

    private static func parse(_ text: String, name: String) throws -> [Segment] {
        var segments: [Segment] = []
        var literal = ""
        var counts = (query: 0, passage: 0)
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            literal += rest[..<open]
            guard let close = rest[open...].firstIndex(of: "}") else {
                throw TemplateError.invalid(name: name, reason: "unclosed '{' in template text")
            }
            let placeholder = rest[rest.index(after: open)..<close]
            switch placeholder {
            case "query": counts.query += 1
            case "passage": counts.passage += 1
            default:
                throw TemplateError.invalid(
                    name: name, reason: "unknown placeholder {\(placeholder)}; only {query} and {passage} exist")
            }
            if !literal.isEmpty { segments.append(.literal(literal)); literal = "" }
            segments.append(placeholder == "query" ? .query : .passage)
            rest = rest[rest.index(after: close)...]
        }
        literal += rest
        if !literal.isEmpty { segments.append(.literal(literal)) }
        guard counts.query == 1, counts.passage == 1 else {
            throw TemplateError.invalid(
                name: name,
                reason: "template text must hold {query} and {passage} exactly once each "
                    + "(found \(counts.query) and \(counts.passage))")
        }
        return segments
    }
}

/// The first `limit` whitespace-separated words of `text`, joined by single spaces: Python's
/// `" ".join(text.split()[:limit])`, as the reference code cuts passages (same whitespace set);
/// `cut` says whether a further word was dropped. Stops reading at the first dropped word.
func firstWords(of text: String, limit: Int) -> (text: String, cut: Bool) {
    func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        // ASCII first: the Unicode property lookup dominates on long documents.
        if scalar.value < 0x80 { return scalar.value == 0x20 || (0x09...0x0D).contains(scalar.value) || (0x1C...0x1F).contains(scalar.value) }
        return scalar.properties.isWhitespace
    }
    let scalars = text.unicodeScalars
    var words: [Substring.UnicodeScalarView] = []
    var start: String.UnicodeScalarView.Index? = nil
    var index = scalars.startIndex
    while index < scalars.endIndex, words.count < limit {
        if isSpace(scalars[index]) {
            if let s = start { words.append(scalars[s..<index]); start = nil }
        } else if start == nil {
            start = index
        }
        index = scalars.index(after: index)
    }
    if let s = start { words.append(scalars[s..<index]) }
    while index < scalars.endIndex, isSpace(scalars[index]) { index = scalars.index(after: index) }
    return (words.map { String($0) }.joined(separator: " "), index < scalars.endIndex)
}

public enum TemplateError: Error, CustomStringConvertible, Equatable {
    case unknownPreset(String)
    case invalid(name: String, reason: String)
    case unreadable(path: String, reason: String)
    case missingPiece(template: String, piece: String)

    public var description: String {
        switch self {
        case let .unknownPreset(name):
            return "unknown template '\(name)'; presets: \(PromptTemplate.presets.keys.sorted().joined(separator: ", "))"
        case let .invalid(name, reason): return "template '\(name)': \(reason)"
        case let .unreadable(path, reason): return "cannot read template file \(path): \(reason)"
        case let .missingPiece(template, piece):
            return "template '\(template)' scores the token '\(piece)', which the model's tokenizer does not have"
        }
    }
}
