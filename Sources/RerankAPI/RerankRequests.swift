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

    /// The most tokens a client may ask to keep of each document; far above any model's input, and small
    /// enough that no arithmetic on it can overflow.
    static let maxTokensPerDocLimit = 1_000_000

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        model = try container.decodeIfPresent(String.self, forKey: .model)
        query = try container.decode(String.self, forKey: .query)
        documents = try container.decode([JSONValue].self, forKey: .documents)
        topN = try container.decodeWholeNumber(.topN, in: 1...Int.max)
        returnDocuments = try container.decodeIfPresent(Bool.self, forKey: .returnDocuments)
        rankFields = try container.decodeIfPresent([String].self, forKey: .rankFields)
        maxTokensPerDoc = try container.decodeWholeNumber(.maxTokensPerDoc, in: 1...Self.maxTokensPerDocLimit)
        truncate = try container.decodeIfPresent(Bool.self, forKey: .truncate)
        rawScores = try container.decodeIfPresent(Bool.self, forKey: .rawScores)
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

extension KeyedDecodingContainer {
    /// An optional whole number within `range`, or a 422 that names the field. Decoded as `JSONValue` first,
    /// so 2.5 or 1e30 is a wrong value for this field, not "invalid JSON", and nothing out of range reaches
    /// arithmetic that could trap.
    func decodeWholeNumber(_ key: Key, in range: ClosedRange<Int>) throws -> Int? {
        guard let value = try decodeIfPresent(JSONValue.self, forKey: key), value != .null else { return nil }
        let wanted = range.upperBound == Int.max
            ? "a whole number of at least \(range.lowerBound)"
            : "a whole number from \(range.lowerBound) to \(range.upperBound)"
        let number: Int?
        switch value {
        case let .integer(integer): number = Int(exactly: integer)
        case .unsignedInteger, .number: number = nil
        default: throw APIError.validation("\(key.stringValue) must be \(wanted), got \(value.kindName)")
        }
        guard let number, range.contains(number) else {
            throw APIError.validation("\(key.stringValue) must be \(wanted), got \(value.plainText)")
        }
        return number
    }
}
