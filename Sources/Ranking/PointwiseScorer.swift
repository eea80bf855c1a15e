import Foundation
import SentencePiece
import T5

/// A pointwise reranker: one encoder pass and one decoder step per (query, document).
public final class PointwiseScorer: Sendable {
    public let model: T5Model
    public let encoder: PromptEncoder
    public var template: PromptTemplate { encoder.template }
    /// Vocabulary ids of the template's score pieces, in `ScoreRule.pieces` order.
    public let scoreIDs: [Int32]

    public init(model: T5Model, tokenizer: SentencePieceTokenizer, template: PromptTemplate,
                maxInputTokens: Int = 512) throws {
        // Every id the tokenizer can emit must index the embedding table, or a user's text would be refused
        // (or worse) long after the load.
        guard tokenizer.vocabularySize <= model.config.vocabSize else {
            throw ScorerError.tokenizerLargerThanModel(tokenizerSize: tokenizer.vocabularySize,
                                                       vocabSize: model.config.vocabSize)
        }
        self.model = model
        self.encoder = PromptEncoder(tokenizer: tokenizer, template: template, maxInputTokens: maxInputTokens)
        self.scoreIDs = try template.rule.pieces.map { piece in
            guard let id = tokenizer.id(ofPiece: piece), Int(id) < model.config.vocabSize else {
                throw TemplateError.missingPiece(template: template.name, piece: piece)
            }
            return id
        }
    }

    /// Loads the model and tokenizer of a Hugging Face checkpoint directory.
    public convenience init(directory: URL, template: PromptTemplate, maxInputTokens: Int = 512) throws {
        try self.init(model: T5Model(directory: directory), tokenizer: SentencePieceTokenizer(directory: directory),
                      template: template, maxInputTokens: maxInputTokens)
    }

    public func encode(query: String, document: String, truncate: Bool = true) throws -> EncodedPrompt {
        try encoder.encode(query: query, passage: document, truncate: truncate)
    }

    /// Raw scores as the template defines them, one per prompt, in order.
    public func rawScores(_ prompts: [[Int32]]) throws(T5InputError) -> [Float] {
        guard !prompts.isEmpty else { return [] }
        let logits = try model.logits(inputs: prompts, decoderPrefix: [model.config.decoderStartTokenID],
                                      vocabIDs: scoreIDs)
        return logits.map(template.rule.rawScore(logits:))
    }

    /// Raw scores of `documents` against `query`, in document order.
    public func rawScores(query: String, documents: [String]) throws -> [Float] {
        try rawScores(documents.map { try encode(query: query, document: $0).ids })
    }
}

public enum ScorerError: Error, Equatable, CustomStringConvertible {
    case tokenizerLargerThanModel(tokenizerSize: Int, vocabSize: Int)

    public var description: String {
        switch self {
        case let .tokenizerLargerThanModel(tokenizerSize, vocabSize):
            return "the tokenizer has \(tokenizerSize) pieces but config.json's vocab_size is \(vocabSize): "
                + "this tokenizer does not belong to this model"
        }
    }
}
