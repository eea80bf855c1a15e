import Foundation
import Ranking
import RerankService

/// A rerank request decoded from any of the three shapes, with what its response needs.
struct ParsedRerank {
    enum Shape { case tei, cohere(version: String) }
    let shape: Shape
    let input: RerankInput
    let rawScores: Bool
    let topN: Int?
    let returnDocuments: Bool
    /// Documents as sent, for echoing them back.
    let originals: [JSONValue]
    let modelName: String?
}

extension RerankRouter {
    func decode<T: Decodable>(_ type: T.Type, _ body: [UInt8]) throws -> T {
        guard String(validating: body, as: UTF8.self) != nil else {
            throw APIError.badRequest("request body is not valid UTF-8")
        }
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            throw APIError.badRequest("request body is empty; expected a JSON object")
        }
        do {
            return try decoder.decode(T.self, from: Data(body))
        } catch let error as APIError {
            throw error
        } catch let DecodingError.dataCorrupted(context) where context.codingPath.isEmpty {
            throw APIError.badRequest("request body is not valid JSON")
        } catch {
            throw APIError.validation("invalid request: \(readableDescription(of: error))")
        }
    }

    func parseRerank(_ route: Route, body: [UInt8]) throws -> ParsedRerank {
        switch route {
        case .tei:
            let request = try decode(TEIRerankRequest.self, body)
            if let direction = request.truncationDirection, direction.lowercased() != "right" {
                throw APIError.validation("truncation_direction \"\(direction)\" is not supported; use \"right\"")
            }
            return ParsedRerank(
                shape: .tei,
                input: RerankInput(query: request.query, documents: request.texts, truncate: request.truncate ?? true),
                rawScores: request.rawScores ?? false, topN: nil, returnDocuments: request.returnText ?? false,
                originals: request.texts.map(JSONValue.string), modelName: nil)
        case .cohereV1, .cohereV2:
            let request = try decode(CohereRerankRequest.self, body)
            let texts = try request.documentTexts().get()
            return ParsedRerank(
                shape: .cohere(version: route == .cohereV1 ? "1" : "2"),
                input: RerankInput(query: request.query, documents: texts, truncate: request.truncate ?? true,
                                   maxTokensPerDocument: request.maxTokensPerDoc),
                rawScores: request.rawScores ?? false, topN: request.topN,
                returnDocuments: request.returnDocuments ?? false, originals: request.documents,
                modelName: request.model)
        default:
            preconditionFailure("not a rerank route: \(route)")
        }
    }

    func respond(_ parsed: ParsedRerank, _ output: RerankOutput) -> String {
        let scores = parsed.rawScores ? output.rawScores : output.probabilities
        let order = rankedIndices(scores, topN: parsed.topN)
        let data: Data
        switch parsed.shape {
        case .tei:
            data = try! encoder.encode(order.map {
                TEIResult(index: $0, score: scores[$0], text: parsed.returnDocuments ? parsed.input.documents[$0] : nil)
            })
        case let .cohere(version):
            let results = order.map { index -> CohereResponse.Result in
                var document: JSONValue? = nil
                if parsed.returnDocuments {
                    if case .string = parsed.originals[index] {
                        document = .object(["text": parsed.originals[index]])
                    } else {
                        document = parsed.originals[index]
                    }
                }
                return CohereResponse.Result(index: index, relevanceScore: scores[index], document: document)
            }
            data = try! encoder.encode(CohereResponse(
                id: UUID().uuidString.lowercased(), model: parsed.modelName ?? output.model,
                results: results,
                meta: .init(apiVersion: .init(version: version), billedUnits: .init(searchUnits: 1),
                            truncatedDocuments: output.truncatedDocuments),
                usage: .init(totalTokens: output.promptTokens)))
        }
        return String(decoding: data, as: UTF8.self)
    }
}
