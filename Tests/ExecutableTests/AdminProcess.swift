import Foundation
import ParityFixtures

/// The built `rerank-admin`, run as a user or a cron job runs it.
enum Admin {
    static let binary = ParityFixtures.root.appendingPathComponent(".build/debug/rerank-admin")

    /// Runs it with `arguments`, feeding `input` on standard input; returns the exit status and both outputs.
    @discardableResult
    static func run(_ arguments: [String], input: String = "") throws -> (status: Int32, stdout: String, stderr: String) {
        try runProcess(binary.path, arguments, input: input)
    }

    /// Runs `executable` (through `timeout -s KILL` when `timeout` is given: status 137 past it, so a command that
    /// blocks fails its test instead of hanging it); returns the exit status and both outputs.
    static func runProcess(_ executable: String, _ arguments: [String], input: String = "", timeout: Int? = nil) throws
        -> (status: Int32, stdout: String, stderr: String)
    {
        let process = Process()
        if let timeout {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
            process.arguments = ["-s", "KILL", "\(timeout)", executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        }
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

    /// A small BEIR corpus (60 passages of 12 words over a dozen, a fixed LCG from `seed`) and 12 TSV queries in
    /// `directory`, as corpus.jsonl and queries.tsv: the same every run.
    static func writeSmallCorpus(in directory: URL, seed: UInt64) throws {
        let words = ["rain", "light", "water", "sun", "river", "music", "school", "city", "game", "house", "road", "film"]
        var state = seed
        func nextWord() -> String {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return words[Int(state >> 33) % words.count]
        }
        var corpus = ""
        for i in 0..<60 {
            let text = (0..<12).map { _ in nextWord() }.joined(separator: " ")
            corpus += String(decoding: try JSONSerialization.data(withJSONObject: ["_id": "p\(i)", "text": text]), as: UTF8.self) + "\n"
        }
        try Data(corpus.utf8).write(to: directory.appendingPathComponent("corpus.jsonl"))
        let queries = (0..<12).map { "q\($0)\t\(words[$0]) \(words[($0 + 3) % words.count])" }.joined(separator: "\n")
        try Data((queries + "\n").utf8).write(to: directory.appendingPathComponent("queries.tsv"))
    }
}
