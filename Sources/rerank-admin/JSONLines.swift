import Foundation
import Ranking
import Retrieval

/// Reads a JSON-lines file (or standard input for "-") one decoded value at a time.
struct JSONLinesReader {
    let path: String

    struct LineError: Error, CustomStringConvertible {
        let path: String
        let line: Int
        let reason: String
        var description: String { "\(path == "-" ? "stdin" : path), line \(line): \(reason)" }
    }

    /// Calls `body` with each non-blank line decoded as `T`, in order; stops at the first bad line.
    func forEach<T: Decodable>(_ type: T.Type, _ body: (T) throws -> Void) throws {
        let decoder = JSONDecoder()
        do {
            try forEachLine(of: path) { line, number in
                guard line.contains(where: { !$0.isWhitespace }) else { return }
                let value: T
                do { value = try decoder.decode(T.self, from: Data(line.utf8)) } catch {
                    throw LineError(path: path, line: number, reason: readableDescription(of: error))
                }
                try body(value)
            }
        } catch let error as DataFileError {
            throw LineError(path: path, line: error.line, reason: error.reason)
        }
    }
}

/// Standard output, buffered (exit flushes it); the command writes from one thread only.
nonisolated(unsafe) private let standardOutput = fdopen(STDOUT_FILENO, "w")

/// Writes one line to standard output.
func emit(_ line: String) {
    var line = line
    line.append("\n")
    line.withCString { _ = fputs($0, standardOutput) }
}

/// JSON text of a float array; Swift's shortest round-trip form keeps every digit that matters.
func jsonArray(_ values: [Float]) -> String {
    "[" + values.map { $0.isFinite ? "\($0)" : "null" }.joined(separator: ",") + "]"
}

/// A failure printed as `Error: ...` alone, without the usage text: the message names the flag, file or
/// key at fault, and a screen of usage would only bury it.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
