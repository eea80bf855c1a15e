import Ranking

/// One rerank request as the service sees it: a query and its documents, already validated for shape.
public struct RerankInput: Sendable {
    public var query: String
    public var documents: [String]
    /// Cut over-long documents to the template's word limit and the token budget (true), or refuse the
    /// request where a cut would be needed (false).
    public var truncate: Bool
    /// An extra per-document token cap (Cohere v2's `max_tokens_per_doc`), nil for none.
    public var maxTokensPerDocument: Int?

    public init(query: String, documents: [String], truncate: Bool = true, maxTokensPerDocument: Int? = nil) {
        self.query = query
        self.documents = documents
        self.truncate = truncate
        self.maxTokensPerDocument = maxTokensPerDocument
    }
}

/// Scores for every document of a request, in input order, with where the time went.
public struct RerankOutput: Sendable {
    /// Raw scores as the template defines them.
    public var rawScores: [Float]
    /// Scores mapped to [0, 1] by the template's rule.
    public var probabilities: [Float]
    /// Documents that were cut, by any limit.
    public var truncatedDocuments: Int
    /// How many documents each limit cut (a document cut by two limits counts under both).
    public var truncatedBy: [PassageLimit: Int]
    /// Prompt tokens the request cost.
    public var promptTokens: Int
    public var tokenizationSeconds: Double
    public var queueSeconds: Double
    public var inferenceSeconds: Double
    /// Name of the template whose rule produced the scores.
    public var template: String
    /// Name of the model that scored them (its directory's name).
    public var model: String
}

public enum RerankError: Error, Equatable, CustomStringConvertible {
    /// The request has nothing to rank: an empty query or no documents.
    case empty(String)
    /// The request is well-formed JSON but breaks a rule (too many documents, too long).
    case validation(String)
    /// The queue is full; try again after the given number of seconds.
    case overloaded(retryAfterSeconds: Int)
    /// The service is draining or has no model.
    case unavailable(String)
    /// The request's deadline passed before its documents were scored.
    case timedOut
    /// The client went away.
    case cancelled
    /// The model could not score the request (a broken checkpoint); the server keeps running.
    case backend(String)

    public var description: String {
        switch self {
        case let .empty(message), let .validation(message): return message
        case let .overloaded(seconds): return "the rerank queue is full; retry after \(seconds) s"
        case let .unavailable(message): return message
        case .timedOut: return "the request timed out before its documents were scored"
        case .cancelled: return "the request was cancelled"
        case let .backend(message): return message
        }
    }
}
