import Foundation
import XCTest

/// `rerank-admin score` and `tokenize` as a user runs them, against reference outputs.
final class RerankAdminTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func run(_ arguments: [String], input: String) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = Self.root.appendingPathComponent(".build/debug/rerank-admin")
        process.arguments = arguments
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    func lines(_ path: String) throws -> [[String: Any]] {
        try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    func testScoreMatchesTransformersForEveryTemplate() throws {
        for expected in try lines("Tests/Fixtures/ranking/expected_scores.jsonl") {
            let template = expected["template"] as! String
            let input = try JSONSerialization.data(withJSONObject: [
                "query": expected["query"]!, "documents": expected["documents"]!])
            let result = try run(["score", "--model", "Models/demo", "--template", template, "--input", "-"],
                                 input: String(decoding: input, as: UTF8.self) + "\n")
            XCTAssertEqual(result.status, 0, result.stderr)
            let output = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
            let scores = output["scores"] as! [Double], reference = expected["scores"] as! [Double]
            XCTAssertEqual(scores.count, reference.count)
            for (score, want) in zip(scores, reference) {
                XCTAssertEqual(score, want, accuracy: 1e-4 * max(1, abs(want)), template)
            }
        }
    }

    func testTokenizeMatchesSentencePiece() throws {
        let cases = try lines("Tests/Fixtures/tokenizers/t5/expected.jsonl").prefix(200)
        let input = try cases.map {
            String(decoding: try JSONSerialization.data(withJSONObject: ["text": $0["text"]!]), as: UTF8.self)
        }.joined(separator: "\n")
        let result = try run(["tokenize", "--model", "Tests/Fixtures/tokenizers/t5"], input: input + "\n")
        XCTAssertEqual(result.status, 0, result.stderr)
        let outputs = result.stdout.split(separator: "\n")
        XCTAssertEqual(outputs.count, cases.count)
        for (line, expected) in zip(outputs, cases) {
            let ids = (try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any])["ids"] as! [Int]
            XCTAssertEqual(ids, expected["sp"] as! [Int], expected["text"] as! String)
        }
    }

    func testBadInputNamesTheLine() throws {
        let result = try run(["score", "--model", "Models/demo", "--input", "-"],
                             input: "{\"query\": \"q\", \"documents\": [\"a\"]}\n\n{\"query\": 1}\n")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(result.stdout.split(separator: "\n").count, 1, "the good first line is still answered")
        XCTAssertTrue(result.stderr.contains("stdin, line 3"), result.stderr)
        let missing = try run(["score", "--model", "/nonexistent", "--input", "-"], input: "")
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("/nonexistent"), missing.stderr)
    }
}
