import Foundation

/// One query and its first-stage candidates, best first: what a teacher or a reranker works on.
public struct CandidateList: Equatable, Sendable {
    public let qid: String
    public let query: String
    public let docids: [String]
    public let documents: [String]

    public init(qid: String, query: String, docids: [String], documents: [String]) {
        self.qid = qid
        self.query = query
        self.docids = docids
        self.documents = documents
    }

    /// The first `k` candidates.
    public func top(_ k: Int) -> CandidateList {
        CandidateList(qid: qid, query: query, docids: Array(docids.prefix(k)), documents: Array(documents.prefix(k)))
    }

    /// The top-`k` candidates of every query of `run` (score descending, as trec_eval orders it) with their
    /// texts from a BEIR corpus (title and text) and queries file. Only the needed documents are kept.
    public static func fromRun(_ run: TRECRun, topK k: Int, corpus: String, queries: String) throws -> [CandidateList] {
        let texts = try Dictionary(readQueries(queries).map { ($0.id, $0.text) }, uniquingKeysWith: { first, _ in first })
        let rankings = run.scores.keys.sorted().map { ($0, Array(run.ranking($0).prefix(k))) }
        var needed = Set(rankings.flatMap(\.1))
        var documents: [String: String] = [:]
        try forEachCorpusDocument(in: corpus) { document in
            if needed.remove(document.id) != nil { documents[document.id] = document.indexedText }
        }
        if let missing = needed.sorted().first {
            throw DataFileError(path: corpus, line: 0, reason:
                "the run names \(needed.count) documents the corpus does not have, e.g. \(missing)")
        }
        return try rankings.map { qid, docids in
            guard let text = texts[qid] else {
                throw DataFileError(path: queries, line: 0, reason: "query \(qid) of the run is not in this file")
            }
            return CandidateList(qid: qid, query: text, docids: docids, documents: docids.map { documents[$0]! })
        }
    }
}
