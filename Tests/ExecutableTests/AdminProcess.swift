import Foundation
import ParityFixtures

/// The built `rerank-admin`, run as a user or a cron job runs it.
enum Admin {
    static let binary = ParityFixtures.root.appendingPathComponent(".build/debug/rerank-admin")

    /// Runs it with `arguments`, feeding `input` on standard input; returns the exit status and both outputs.
    @discardableResult
    static func run(_ arguments: [String], input: String = "") throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        // Both pipes are drained concurrently, so a chatty child cannot block on a full pipe.
        let errors = DispatchQueue(label: "stderr")
        nonisolated(unsafe) var err = Data()
        errors.async { err = stderr.fileHandleForReading.readDataToEndOfFile() }
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        errors.sync {}
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }
}
