/// How a template turns decoder logits into a relevance score.
public enum ScoreRule: Equatable, Sendable {
    /// The raw logit of one token at the first decoder step.
    case logit(piece: String)
    /// log P(positive) under a softmax over the two logits [negative, positive].
    case logSoftmax(positive: String, negative: String)
}

/// A pointwise prompt: text with `{query}` and `{passage}` placeholders and its scoring rule.
public struct PromptTemplate: Equatable, Sendable {
    public var name: String
    public var text: String
    /// The passage is cut to this many whitespace-separated words before prompting (nil: no cut).
    public var maxPassageWords: Int?
    public var rule: ScoreRule

    public init(name: String, text: String, maxPassageWords: Int?, rule: ScoreRule) {
        self.name = name
        self.text = text
        self.maxPassageWords = maxPassageWords
        self.rule = rule
    }
}
