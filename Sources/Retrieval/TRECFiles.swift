import Foundation

/// A line of an input file that could not be read, named by file and line number (a job never skips
/// data silently).
public struct DataFileError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let line: Int
    public let reason: String

    public init(path: String, line: Int, reason: String) {
        self.path = path
        self.line = line
        self.reason = reason
    }

    public var description: String { line > 0 ? "\(path), line \(line): \(reason)" : "\(path): \(reason)" }
}

/// Calls `body` with each line of a text file (without its newline) and its 1-based number, reading the
/// file a block at a time so large files are never held whole. "-" reads standard input.
public func forEachLine(of path: String, _ body: (Substring, Int) throws -> Void) throws {
    guard let file = path == "-" ? fdopen(dup(STDIN_FILENO), "r") : fopen(path, "r") else {
        throw DataFileError(path: path, line: 0, reason: String(cString: strerror(errno)))
    }
    defer { fclose(file) }
    var buffer: UnsafeMutablePointer<CChar>? = nil
    var capacity = 0
    defer { free(buffer) }
    var number = 0
    while true {
        let length = getline(&buffer, &capacity, file)
        if length < 0 { break }
        number += 1
        let bytes = UnsafeRawBufferPointer(start: buffer, count: length)
        var line = String(decoding: bytes, as: UTF8.self)[...]
        while line.last == "\n" || line.last == "\r" { line = line.dropLast() }
        try body(line, number)
    }
    if ferror(file) != 0 { throw DataFileError(path: path, line: number, reason: "read error") }
}

/// A ranked list per query: TREC run format `qid Q0 docid rank score tag`. As trec_eval does, the rank
/// column is ignored and documents are ordered by score, ties by docid descending.
public struct TRECRun: Equatable, Sendable {
    public var scores: [String: [String: Double]]

    public init(scores: [String: [String: Double]] = [:]) {
        self.scores = scores
    }

    public static func read(_ path: String) throws -> TRECRun {
        var run = TRECRun()
        try forEachLine(of: path) { line, number in
            let fields = line.split(whereSeparator: \.isWhitespace)
            if fields.isEmpty { return }
            guard fields.count == 6 else {
                throw DataFileError(path: path, line: number,
                                    reason: "expected 6 fields 'qid Q0 docid rank score tag', found \(fields.count)")
            }
            guard let score = Double(fields[4]), score.isFinite else {
                throw DataFileError(path: path, line: number, reason: "score '\(fields[4])' is not a finite number")
            }
            let qid = String(fields[0]), docid = String(fields[2])
            if run.scores[qid]?[docid] != nil {
                throw DataFileError(path: path, line: number, reason: "document \(docid) appears twice for query \(qid)")
            }
            run.scores[qid, default: [:]][docid] = score
        }
        return run
    }

    /// Documents of `qid` best first (score descending, then docid descending, as trec_eval sorts).
    public func ranking(_ qid: String) -> [String] {
        (scores[qid] ?? [:]).sorted { $0.value != $1.value ? $0.value > $1.value : $0.key > $1.key }.map(\.key)
    }
}

/// Relevance judgments: TREC `qid 0 docid grade`, or BEIR TSV `query-id<TAB>corpus-id<TAB>score` with
/// that header line. A line of three tab-separated fields is read as BEIR, so an id holding a space is
/// refused at its line rather than split into other fields (spaces around a field are dropped).
public struct Qrels: Equatable, Sendable {
    public var grades: [String: [String: Int]]

    public init(grades: [String: [String: Int]] = [:]) {
        self.grades = grades
    }

    public static func read(_ path: String) throws -> Qrels {
        var qrels = Qrels()
        try forEachLine(of: path) { line, number in
            let tabs = line.split(separator: "\t", omittingEmptySubsequences: false)
            let fields = tabs.count == 3 ? tabs.map { $0.trimmingCharacters(in: .whitespaces)[...] }
                : line.split(whereSeparator: \.isWhitespace)
            if fields.allSatisfy({ $0.allSatisfy(\.isWhitespace) }) { return }
            if number == 1, fields.first == "query-id" { return }  // BEIR header
            let (qid, docid, grade): (Substring, Substring, Substring)
            switch fields.count {
            case 4: (qid, docid, grade) = (fields[0], fields[2], fields[3])
            case 3: (qid, docid, grade) = (fields[0], fields[1], fields[2])
            default:
                throw DataFileError(path: path, line: number, reason:
                    "expected 'qid 0 docid grade' (TREC) or 'query-id corpus-id score' (BEIR), found \(fields.count) fields")
            }
            for (id, kind) in [(qid, "query"), (docid, "document")] {
                if let problem = identifierProblem(id, kind: kind) {
                    throw DataFileError(path: path, line: number, reason: problem)
                }
            }
            guard let value = Int(grade) else {
                throw DataFileError(path: path, line: number, reason: "grade '\(grade)' is not an integer")
            }
            qrels.grades[String(qid), default: [:]][String(docid)] = value
        }
        return qrels
    }
}
