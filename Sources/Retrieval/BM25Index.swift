import Foundation
import HeapModule

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

    public let parameters: Parameters
    public private(set) var docids: [String] = []
    private var lengths: [Int32] = []
    private var totalLength = 0
    /// Terms are numbered in order of first appearance; postings and idf are indexed by that number.
    private var termIDs: [String: Int32] = [:]
    private var postingDocuments: [[Int32]] = []
    private var postingFrequencies: [[Int32]] = []
    private var idf: [Double] = []

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
        var ids = tokens.map { token -> Int32 in
            if let id = termIDs[token] { return id }
            let id = Int32(termIDs.count)
            termIDs[token] = id
            postingDocuments.append([])
            postingFrequencies.append([])
            return id
        }
        ids.sort()
        var start = 0
        while start < ids.count {
            var end = start + 1
            while end < ids.count, ids[end] == ids[start] { end += 1 }
            postingDocuments[Int(ids[start])].append(index)
            postingFrequencies[Int(ids[start])].append(Int32(end - start))
            start = end
        }
    }

    /// Computes the idf table (rank_bm25's `_calc_idf`).
    public mutating func finish() {
        let n = Double(docids.count)
        idf = postingDocuments.map { list in
            let frequency = Double(list.count)
            return log(n - frequency + 0.5) - log(frequency + 0.5)
        }
        // rank_bm25 sums the idfs in the order its dictionary holds the terms: first appearance, as here.
        let sum = idf.reduce(0, +)
        let floor = parameters.epsilon * (idf.isEmpty ? 0 : sum / Double(idf.count))
        for term in idf.indices where idf[term] < 0 { idf[term] = floor }
    }

    /// Scores of the documents that contain at least one query token, by document index, summed over the
    /// query's tokens in order as rank_bm25 does.
    public func scores(_ query: [String]) -> [(document: Int32, score: Double)] {
        let (k1, b) = (parameters.k1, parameters.b)
        let averageLength = Double(totalLength) / Double(max(docids.count, 1))
        var dense = [Double](repeating: 0, count: docids.count)
        var seen = [Bool](repeating: false, count: docids.count)
        var touched: [Int32] = []
        for token in query {
            guard let term = termIDs[token].map(Int.init) else { continue }
            let weight = idf[term]
            for (document, frequency) in zip(postingDocuments[term], postingFrequencies[term]) {
                let tf = Double(frequency), length = Double(lengths[Int(document)])
                if !seen[Int(document)] { seen[Int(document)] = true; touched.append(document) }
                dense[Int(document)] += weight * (tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / averageLength)))
            }
        }
        return touched.map { ($0, dense[Int($0)]) }
    }

    /// The `k` best documents containing a query token: score descending, ties by docid ascending.
    public func top(_ query: [String], k: Int) -> [(docid: String, score: Double)] {
        var best = Heap<Ranked>()
        for (document, score) in scores(query) {
            let candidate = Ranked(score: score, docid: docids[Int(document)])
            if best.count < k {
                best.insert(candidate)
            } else if let worst = best.min, worst < candidate {
                _ = best.replaceMin(with: candidate)
            }
        }
        var ranked: [(docid: String, score: Double)] = []
        while let next = best.popMax() { ranked.append((next.docid, next.score)) }
        return ranked
    }

    /// Ordered worst to best: lower score, or an equal score and a later docid.
    private struct Ranked: Comparable {
        let score: Double
        let docid: String
        static func < (a: Ranked, b: Ranked) -> Bool { a.score != b.score ? a.score < b.score : a.docid > b.docid }
    }
}
