import ArgumentParser
import Foundation
import Ranking
import RerankService
import Retrieval

/// Reads a JSON-lines file (or standard input for "-") one decoded value at a time.
struct JSONLinesReader {
    let path: String
    /// The flag that named the file, for a file that cannot be opened ("--input FILE: No such file or directory").
    var flag = "--input"

    struct LineError: Error, CustomStringConvertible {
        let path: String
        let line: Int
        let reason: String
        var flag = "--input"
        var description: String {
            // Line 0: the file could not be opened at all.
            line > 0 ? "\(path == "-" ? "stdin" : path), line \(line): \(reason)" : "\(flag) \(path): \(reason)"
        }
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
            throw LineError(path: path, line: error.line, reason: error.reason, flag: flag)
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
/// key at fault, and a screen of usage would only bury it. Exit 1 for a failure while running (a file, a model, an
/// endpoint), 64 for a wrong command line (`usage`).
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    let exitCode: Int32
    /// What the message is printed after: "Error", or a command's name (`publish: ...`) where the command
    /// speaks for itself, as publish and rollback do.
    var speaker = "Error"

    init(_ description: String, exitCode: Int32 = 1) {
        self.description = description
        self.exitCode = exitCode
    }

    /// The same failure, printed as `command`'s.
    func spoken(by command: String) -> CommandFailure {
        var failure = self
        failure.speaker = command
        return failure
    }

    /// Flags that do not go together, a value out of range: exit 64 (EX_USAGE), the message naming the flag.
    static func usage(_ description: String) -> CommandFailure { CommandFailure(description, exitCode: 64) }

    /// Runs `body`; an error it throws becomes "`what`: the error in plain words" (Foundation's file errors as
    /// "PATH: reason"), e.g. `--output: /data/run.trec: Not a directory`. Failures already worded, and exits, pass.
    static func naming<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as CommandFailure { throw error } catch let error as ExitCode {
            throw error
        } catch {
            throw CommandFailure("\(what): \(ErrorText.describe(error))")
        }
    }

    /// How rerank-admin ends on `error`: its own failures with their code, ArgumentParser's (usage, help) as it
    /// prints them, anything else as `Error: <plain words>` and exit 1. Never Foundation's `Error Domain=...` text.
    static func exit(_ error: Error) -> Never {
        if let failure = error as? CommandFailure {
            FileHandle.standardError.write(Data("\(failure.speaker): \(failure.description)\n".utf8))
            Foundation.exit(failure.exitCode)
        }
        if String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") { RerankAdmin.exit(withError: error) }
        FileHandle.standardError.write(Data("Error: \(ErrorText.describe(error))\n".utf8))
        Foundation.exit(1)
    }
}

/// Fails early, naming the flag, when the directory `path` goes in cannot be written (missing, not a directory,
/// read-only): for outputs written by code that would report it less plainly, or only after hours of work.
func requireWritableDirectory(of path: String, flag: String) throws {
    guard path != "-" else { return }
    let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
    var info = stat()
    let reason: String?
    if stat(parent, &info) != 0 {
        reason = String(cString: strerror(errno))
    } else if (info.st_mode & S_IFMT) != S_IFDIR {
        reason = String(cString: strerror(ENOTDIR))
    } else if access(parent, W_OK | X_OK) != 0 {
        reason = String(cString: strerror(errno))
    } else {
        reason = nil
    }
    if let reason { throw CommandFailure("\(flag) \(path): cannot write in \(parent): \(reason)") }
}

/// Fails naming the flag when `path` cannot be opened for reading, before code that would say less ("cannot read X").
func requireReadableFile(_ path: String, flag: String) throws {
    let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else { throw CommandFailure("\(flag) \(path): \(String(cString: strerror(errno)))") }
    close(fd)
}
