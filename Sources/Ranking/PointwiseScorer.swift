import Foundation
import SentencePiece
import T5

/// A pointwise reranker: one encoder pass and one decoder step per (query, document).
public final class PointwiseScorer: @unchecked Sendable {
    public let model: T5Model
    public let encoder: PromptEncoder
    public var template: PromptTemplate { encoder.template }
    /// Vocabulary ids of the template's score pieces, in `ScoreRule.pieces` order.
    public let scoreIDs: [Int32]

    public init(model: T5Model, tokenizer: SentencePieceTokenizer, template: PromptTemplate,
                maxInputTokens: Int = 512) throws {
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
    public func rawScores(_ prompts: [[Int32]]) -> [Float] {
        guard !prompts.isEmpty else { return [] }
        let logits = model.logits(inputs: prompts, decoderPrefix: [model.config.decoderStartTokenID],
                                  vocabIDs: scoreIDs)
        return logits.map(template.rule.rawScore(logits:))
    }

    /// Raw scores of `documents` against `query`, in document order.
    public func rawScores(query: String, documents: [String]) throws -> [Float] {
        try rawScores(documents.map { try encode(query: query, document: $0).ids })
    }
}
