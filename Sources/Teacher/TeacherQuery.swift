import Foundation
import Retrieval

/// One query and its first-stage candidates, best first, as the teacher ranks them.
public struct TeacherQuery: Equatable, Sendable {
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
    public func top(_ k: Int) -> TeacherQuery {
        TeacherQuery(qid: qid, query: query, docids: Array(docids.prefix(k)), documents: Array(documents.prefix(k)))
    }
}

/// Where the teacher's queries come from: a JSON-lines file, read twice (ids first, then the texts) so it is
/// never held whole, or queries built in memory from a first-stage run.
public enum TeacherInput {
    case jsonLines(path: String)
    case queries([TeacherQuery])

    /// JSON lines `{"qid"?, "query", "docids"?, "documents": [str]}`: qid defaults to the 0-based line
    /// number among the non-blank lines, docids to "0", "1", ...
    public func forEach(_ body: (TeacherQuery) throws -> Void) throws {
        switch self {
        case let .queries(queries):
            for query in queries { try body(query) }
        case let .jsonLines(path):
            struct Line: Decodable {
                let qid: String?
                let query: String
                let docids: [String]?
                let documents: [String]
            }
            let decoder = JSONDecoder()
            var index = 0
            var seen = Set<String>()
            try forEachLine(of: path) { text, number in
                guard text.contains(where: { !$0.isWhitespace }) else { return }
                let line: Line
                do { line = try decoder.decode(Line.self, from: Data(text.utf8)) } catch {
                    throw DataFileError(path: path, line: number, reason: Self.describe(error))
                }
                let docids = line.docids ?? line.documents.indices.map(String.init)
                guard docids.count == line.documents.count else {
                    throw DataFileError(path: path, line: number, reason:
                        "\(docids.count) docids for \(line.documents.count) documents")
                }
                guard Set(docids).count == docids.count else {
                    throw DataFileError(path: path, line: number, reason: "a docid appears twice")
                }
                let qid = line.qid ?? String(index)
                guard seen.insert(qid).inserted else {
                    throw DataFileError(path: path, line: number, reason: "query id \(qid) appears twice")
                }
                index += 1
                try body(TeacherQuery(qid: qid, query: line.query, docids: docids, documents: line.documents))
            }
        }
    }

    /// The top-`k` candidates of every query of `run` (score descending, as trec_eval orders it) with their
    /// texts from a BEIR corpus (title and text) and queries file. Only the needed documents are kept.
    public static func fromRun(_ run: TRECRun, topK k: Int, corpus: String, queries: String) throws -> TeacherInput {
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
        return .queries(try rankings.map { qid, docids in
            guard let text = texts[qid] else {
                throw DataFileError(path: queries, line: 0, reason: "query \(qid) of the run is not in this file")
            }
            return TeacherQuery(qid: qid, query: text, docids: docids, documents: docids.map { documents[$0]! })
        })
    }

    private static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing field \"\(key.stringValue)\""
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "field \"\(path)\": \(context.debugDescription)"
        case DecodingError.dataCorrupted: return "not valid JSON"
        default: return "\(error)"
        }
    }
}
