import Foundation
import Ranking
import Retrieval

/// Where the teacher's queries come from: a JSON-lines file, read twice (ids first, then the texts) so it is
/// never held whole, or queries built in memory from a first-stage run.
public enum TeacherInput {
    case jsonLines(path: String)
    case queries([CandidateList])

    /// JSON lines `{"qid"?, "query", "docids"?, "documents": [str]}`: qid defaults to the 0-based line
    /// number among the non-blank lines, docids to "0", "1", ...
    public func forEach(_ body: (CandidateList) throws -> Void) throws {
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
                    throw DataFileError(path: path, line: number, reason: readableDescription(of: error))
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
                try body(CandidateList(qid: qid, query: line.query, docids: docids, documents: line.documents))
            }
        }
    }
}
