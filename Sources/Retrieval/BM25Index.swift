import Foundation

/// BM25Okapi exactly as `rank_bm25` defines it: idf = ln(N - n + 0.5) - ln(n + 0.5), negative idfs replaced
/// by epsilon x the mean idf, and per document idf x tf (k1 + 1) / (tf + k1 (1 - b + b dl / avgdl)), summed
/// over the query's tokens in order. Postings are kept per term, so scoring a query touches only the
/// documents that contain its terms.
public struct BM25Index: Sendable {
    public struct Parameters: Sendable {
        public var k1 = 1.5, b = 0.75, epsilon = 0.25
        public init(k1: Double = 1.5, b: Double = 0.75, epsilon: Double = 0.25) {
            self.k1 = k1
            self.b = b
            self.epsilon = epsilon
        }
    }

    private struct Postings: Sendable {
        var documents: [Int32] = []
        var frequencies: [Int32] = []
    }

    public let parameters: Parameters
    public private(set) var docids: [String] = []
    private var lengths: [Int32] = []
    private var totalLength = 0
    private var postings: [String: Postings] = [:]
    private var idf: [String: Double] = [:]

    public init(parameters: Parameters = Parameters()) {
        self.parameters = parameters
    }

    public var count: Int { docids.count }

    /// Adds a document; call `finish()` after the last one.
    public mutating func add(docid: String, tokens: [String]) {
        let index = Int32(docids.count)
        docids.append(docid)
        lengths.append(Int32(tokens.count))
        totalLength += tokens.count
        var frequencies: [String: Int32] = [:]
        for token in tokens { frequencies[token, default: 0] += 1 }
        for (term, frequency) in frequencies {
            postings[term, default: Postings()].documents.append(index)
            postings[term]!.frequencies.append(frequency)
        }
    }

    /// Computes the idf table (rank_bm25's `_calc_idf`).
    public mutating func finish() {
        let n = Double(docids.count)
        var sum = 0.0
        var negative: [String] = []
        idf = [:]
        idf.reserveCapacity(postings.count)
        for (term, list) in postings {
            let frequency = Double(list.documents.count)
            let value = log(n - frequency + 0.5) - log(frequency + 0.5)
            idf[term] = value
            sum += value
            if value < 0 { negative.append(term) }
        }
        let floor = parameters.epsilon * (idf.isEmpty ? 0 : sum / Double(idf.count))
        for term in negative { idf[term] = floor }
    }

    /// Scores of the documents that contain at least one query token, by document index.
    public func scores(_ query: [String]) -> [Int32: Double] {
        let (k1, b) = (parameters.k1, parameters.b)
        let averageLength = Double(totalLength) / Double(max(docids.count, 1))
        var scores: [Int32: Double] = [:]
        for token in query {
            guard let list = postings[token], let weight = idf[token] else { continue }
            for (document, frequency) in zip(list.documents, list.frequencies) {
                let tf = Double(frequency), length = Double(lengths[Int(document)])
                scores[document, default: 0] += weight * (tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / averageLength)))
            }
        }
        return scores
    }

    /// The `k` best documents containing a query token: score descending, ties by docid ascending.
    public func top(_ query: [String], k: Int) -> [(docid: String, score: Double)] {
        scores(query).map { (docid: docids[Int($0.key)], score: $0.value) }
            .sorted { $0.score != $1.score ? $0.score > $1.score : $0.docid < $1.docid }
            .prefix(k).map { $0 }
    }
}
