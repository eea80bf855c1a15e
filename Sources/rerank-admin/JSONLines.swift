import Foundation
import Ranking

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
        guard let file = path == "-" ? fdopen(dup(STDIN_FILENO), "r") : fopen(path, "r") else {
            throw LineError(path: path, line: 0, reason: String(cString: strerror(errno)))
        }
        defer { fclose(file) }
        let decoder = JSONDecoder()
        var buffer: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(buffer) }
        var number = 0
        while true {
            let length = getline(&buffer, &capacity, file)
            if length < 0 { break }
            number += 1
            let data = Data(bytes: buffer!, count: length)
            if data.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) { continue }
            let value: T
            do { value = try decoder.decode(T.self, from: data) } catch {
                throw LineError(path: path, line: number, reason: readableDescription(of: error))
            }
            try body(value)
        }
        if ferror(file) != 0 { throw LineError(path: path, line: number, reason: "read error") }
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
