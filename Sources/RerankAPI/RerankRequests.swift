/// `POST /rerank`, the text-embeddings-inference shape.
struct TEIRerankRequest: Decodable {
    let query: String
    let texts: [String]
    let truncate: Bool?
    let truncationDirection: String?
    let rawScores: Bool?
    let returnText: Bool?

    enum CodingKeys: String, CodingKey {
        case query, texts, truncate
        case truncationDirection = "truncation_direction"
        case rawScores = "raw_scores"
        case returnText = "return_text"
    }
}

/// `POST /v1/rerank` (Cohere v1 and Jina) and `POST /v2/rerank` (Cohere v2).
struct CohereRerankRequest: Decodable {
    let model: String?
    let query: String
    /// Strings, or objects ranked by their "text" field (or by `rank_fields`).
    let documents: [JSONValue]
    let topN: Int?
    let returnDocuments: Bool?
    let rankFields: [String]?
    let maxTokensPerDoc: Int?
    let truncate: Bool?
    let rawScores: Bool?

    enum CodingKeys: String, CodingKey {
        case model, query, documents, truncate
        case topN = "top_n"
        case returnDocuments = "return_documents"
        case rankFields = "rank_fields"
        case maxTokensPerDoc = "max_tokens_per_doc"
        case rawScores = "raw_scores"
    }

    /// The text each document is ranked by, or a message naming the first document that has none.
    func documentTexts() -> Result<[String], APIError> {
        var texts: [String] = []
        texts.reserveCapacity(documents.count)
        for (index, document) in documents.enumerated() {
            switch document {
            case let .string(text):
                texts.append(text)
            case let .object(fields):
                if let rankFields, !rankFields.isEmpty {
                    let missing = rankFields.filter { fields[$0] == nil }
                    guard missing.isEmpty else {
                        return .failure(.validation("documents[\(index)] lacks the rank field(s) \(missing.joined(separator: ", "))"))
                    }
                    texts.append(rankFields.map { "\($0): \(fields[$0]!.plainText)" }.joined(separator: "\n"))
                } else if case let .string(text)? = fields["text"] {
                    texts.append(text)
                } else {
                    return .failure(.validation("documents[\(index)] is an object without a string \"text\" field"))
                }
            default:
                return .failure(.validation("documents[\(index)] must be a string or an object with a \"text\" field"))
            }
        }
        return .success(texts)
    }
}
