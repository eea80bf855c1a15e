import Foundation
import SentencePiece
import T5

/// The pairwise teacher on the built-in T5 core: one encoder pass per ordered pair, the decoder fed
/// `[start, ▁passage]`, and the `▁A` / `▁B` logits at its last position.
public final class PairwiseScorer: Sendable {
    public let model: T5Model
    public let prompt: PairwisePrompt

    public init(model: T5Model, tokenizer: SentencePieceTokenizer, maxInputTokens: Int = 512) throws {
        guard tokenizer.vocabularySize <= model.config.vocabSize else {
            throw ScorerError.tokenizerLargerThanModel(tokenizerSize: tokenizer.vocabularySize,
                                                       vocabSize: model.config.vocabSize)
        }
        self.model = model
        self.prompt = try PairwisePrompt(tokenizer: tokenizer, maxInputTokens: maxInputTokens)
    }

    public convenience init(directory: URL, maxInputTokens: Int = 512) throws {
        try self.init(model: T5Model(directory: directory), tokenizer: SentencePieceTokenizer(directory: directory),
                      maxInputTokens: maxInputTokens)
    }

    /// The `▁A` and `▁B` logits of prompts already encoded by `prompt.encode`, in order.
    public func answerLogits(_ prompts: [[Int32]]) throws(T5InputError) -> [(a: Float, b: Float)] {
        guard !prompts.isEmpty else { return [] }
        let logits = try model.logits(inputs: prompts, decoderPrefix: [model.config.decoderStartTokenID, prompt.prefixID],
                                      vocabIDs: [prompt.aID, prompt.bID])
        return logits.map { ($0[0], $0[1]) }
    }

    /// Preferences of `pairs` of `passages` (already cut with `PairwisePrompt.cut`) for `query`.
    public func judge(query: String, passages: [String], pairs: [OrderedPair]) throws -> [PairPreference] {
        let prompts = try pairs.map { try prompt.encode(query: query, a: passages[$0.first], b: passages[$0.second]) }
        return try answerLogits(prompts).map { PairPreference(a: $0.a, b: $0.b) }
    }
}
