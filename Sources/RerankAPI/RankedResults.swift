import RerankService

/// Document indices in response order: score descending, ties by input order, cut to `topN`.
func rankedIndices(_ scores: [Float], topN: Int?) -> [Int] {
    let order = scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
    guard let topN else { return order }
    return Array(order.prefix(topN))
}

/// TEI response: a bare array `[{"index", "score", "text"?}]`.
struct TEIResult: Encodable {
    let index: Int
    let score: Float
    let text: String?
}

/// Cohere v1/v2 (and Jina) response.
struct CohereResponse: Encodable {
    struct Result: Encodable {
        let index: Int
        let relevanceScore: Float
        let document: JSONValue?
        enum CodingKeys: String, CodingKey {
            case index, document
            case relevanceScore = "relevance_score"
        }
    }
    struct Meta: Encodable {
        struct APIVersion: Encodable { let version: String }
        struct BilledUnits: Encodable { let searchUnits: Int; enum CodingKeys: String, CodingKey { case searchUnits = "search_units" } }
        let apiVersion: APIVersion
        let billedUnits: BilledUnits
        let truncatedDocuments: Int
        enum CodingKeys: String, CodingKey {
            case apiVersion = "api_version"
            case billedUnits = "billed_units"
            case truncatedDocuments = "truncated_documents"
        }
    }
    struct Usage: Encodable {
        let totalTokens: Int
        enum CodingKeys: String, CodingKey { case totalTokens = "total_tokens" }
    }
    let id: String
    let model: String
    let results: [Result]
    let meta: Meta
    let usage: Usage
}
