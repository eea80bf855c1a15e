import Foundation

/// One passage of a BEIR corpus line `{"_id", "title"?, "text"}`.
public struct CorpusDocument: Decodable, Sendable {
    public let id: String
    public let title: String?
    public let text: String

    enum CodingKeys: String, CodingKey { case id = "_id", title, text }

    /// Title and text, as BM25 indexes them (the BEIR convention).
    public var indexedText: String { title.map { $0.isEmpty ? text : $0 + " " + text } ?? text }
}

/// A query: from JSON lines `{"_id", "text"}` or TSV `qid<TAB>text`.
public struct Query: Decodable, Sendable {
    public let id: String
    public let text: String

    enum CodingKeys: String, CodingKey { case id = "_id", text }

    public init(id: String, text: String) {
        self.id = id
        self.text = text
    }
}

/// Why `id` cannot name a query or a document, or nil. TREC runs and qrels separate their fields by
/// whitespace, so an empty id or one holding whitespace could be written into a run that no reader (ours,
/// trec_eval, pytrec_eval) can read back; every reader refuses it where it first appears.
public func identifierProblem(_ id: some StringProtocol, kind: String) -> String? {
    if id.isEmpty { return "\(kind) id is empty: TREC runs and qrels need one without whitespace" }
    guard id.contains(where: \.isWhitespace) else { return nil }
    let shown = String(decoding: try! JSONEncoder().encode(String(id)), as: UTF8.self)
    return "\(kind) id \(shown) contains whitespace, which TREC runs and qrels use to separate fields, so no run "
        + "could name it: change the id in this file"
}

/// Streams a BEIR corpus, one document at a time; an id no TREC run could hold is refused at its line.
public func forEachCorpusDocument(in path: String, _ body: (CorpusDocument) throws -> Void) throws {
    let decoder = JSONDecoder()
    try forEachLine(of: path) { line, number in
        if line.allSatisfy(\.isWhitespace) { return }
        let document: CorpusDocument
        do {
            document = try decoder.decode(CorpusDocument.self, from: Data(line.utf8))
        } catch let error as DecodingError {
            throw DataFileError(path: path, line: number, reason: "not a corpus line {\"_id\", \"title\"?, \"text\"}: \(error.shortDescription)")
        }
        if let problem = identifierProblem(document.id, kind: "document") {
            throw DataFileError(path: path, line: number, reason: problem)
        }
        try body(document)
    }
}

/// Reads queries from JSON lines or TSV (decided by each line's first character); an id no TREC run could
/// hold is refused at its line.
public func readQueries(_ path: String) throws -> [Query] {
    var queries: [Query] = []
    let decoder = JSONDecoder()
    try forEachLine(of: path) { line, number in
        if line.allSatisfy(\.isWhitespace) { return }
        if line.first == "{" {
            do { queries.append(try decoder.decode(Query.self, from: Data(line.utf8))) } catch let error as DecodingError {
                throw DataFileError(path: path, line: number, reason: "not a query line {\"_id\", \"text\"}: \(error.shortDescription)")
            }
        } else {
            let fields = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
            guard fields.count == 2, !fields[0].isEmpty else {
                throw DataFileError(path: path, line: number, reason: "expected 'qid<TAB>text' or a JSON object")
            }
            queries.append(Query(id: String(fields[0]), text: String(fields[1])))
        }
        if let problem = identifierProblem(queries[queries.count - 1].id, kind: "query") {
            throw DataFileError(path: path, line: number, reason: problem)
        }
    }
    return queries
}

extension DecodingError {
    /// The key path and what was wrong, without Swift's type dump.
    var shortDescription: String {
        switch self {
        case let .keyNotFound(key, _): return "missing \"\(key.stringValue)\""
        case let .typeMismatch(_, context), let .valueNotFound(_, context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "\"\(path)\" has the wrong type"
        case .dataCorrupted: return "invalid JSON"
        @unknown default: return "invalid"
        }
    }
}
