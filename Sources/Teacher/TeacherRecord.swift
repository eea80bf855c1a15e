import Foundation
import Ranking
import Retrieval

/// One output line: `{"qid", "docids", "wins", "ranking"}`, wins in docids order, ranking best first.
public struct TeacherRecord: Codable, Equatable, Sendable {
    public let qid: String
    public let docids: [String]
    public let wins: [Double]
    public let ranking: [String]

    public init(qid: String, docids: [String], wins: [Double], ranking: [String]) {
        self.qid = qid
        self.docids = docids
        self.wins = wins
        self.ranking = ranking
    }

    public init(query: CandidateList, outcome: PairwiseOutcome) {
        self.init(qid: query.qid, docids: query.docids, wins: outcome.wins,
                  ranking: outcome.ranking.map { query.docids[$0] })
    }

    /// The JSON line, fields in the documented order, without its newline.
    public var jsonLine: String {
        func string(_ s: String) -> String { String(decoding: try! JSONEncoder().encode(s), as: UTF8.self) }
        func number(_ w: Double) -> String { w == w.rounded() ? String(Int(w)) : String(w) }
        return "{\"qid\":\(string(qid)),\"docids\":[\(docids.map(string).joined(separator: ","))],"
            + "\"wins\":[\(wins.map(number).joined(separator: ","))],"
            + "\"ranking\":[\(ranking.map(string).joined(separator: ","))]}"
    }

    /// Reads every complete record of a teacher output file. A last line without its newline is what a
    /// killed writer leaves: it is reported in `tornBytes`, not as an error; any other bad line throws.
    public static func read(_ path: String) throws -> (records: [TeacherRecord], completeBytes: Int, tornBytes: Int) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TeacherError.unreadable(path: path)
        }
        let bytes = [UInt8](data)
        let complete = (bytes.lastIndex(of: 0x0A).map { $0 + 1 }) ?? 0
        var records: [TeacherRecord] = []
        var number = 0
        let decoder = JSONDecoder()
        for line in bytes[..<complete].split(separator: 0x0A, omittingEmptySubsequences: false).dropLast() {
            number += 1
            do { records.append(try decoder.decode(TeacherRecord.self, from: Data(line))) } catch {
                throw TeacherError.badOutputLine(path: path, line: number)
            }
        }
        return (records, complete, bytes.count - complete)
    }
}

public enum TeacherError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String)
    case badOutputLine(path: String, line: Int)
    case otherJob(path: String, field: String, was: String, now: String)
    case noJobFile(path: String)
    case write(path: String, reason: String)
    case merge(String)
    case endpoint(String)
    case missingAnswers(qid: String, missing: Int, prompts: Int, limit: Double, example: String)
    case interrupted(done: Int, total: Int)

    public var description: String {
        switch self {
        case let .unreadable(path): return "cannot read \(path)"
        case let .badOutputLine(path, line):
            return "\(path), line \(line): not a teacher output line; this file was not written by the teacher"
        case let .otherJob(path, field, was, now):
            return "\(path) belongs to another job (\(field) was \(was), now \(now)): pass another --output, "
                + "or delete it and its .job.json to start over"
        case let .noJobFile(path):
            return "\(path) exists but has no \(path).job.json beside it, so it cannot be resumed safely: "
                + "pass another --output or delete it"
        case let .write(path, reason): return "cannot write \(path): \(reason)"
        case let .merge(reason): return "teacher-merge: \(reason)"
        case let .endpoint(reason): return "teacher endpoint: \(reason)"
        case let .missingAnswers(qid, missing, prompts, limit, example):
            return "teacher endpoint: query \(qid): \(missing) of \(prompts) answers hold neither A nor B among their "
                + "top log-probabilities, more than --max-missing-answers \(String(format: "%g", limit)) allows "
                + "(e.g. \(example)). Such answers say nothing (a chat model, another tokenizer, the wrong "
                + "--endpoint-model, or --top-logprobs too small?); this query was not written, those before it are kept"
        case let .interrupted(done, total):
            return "stopped by a signal after \(done) of \(total) queries; everything finished is kept: run the "
                + "same command again to continue"
        }
    }
}
