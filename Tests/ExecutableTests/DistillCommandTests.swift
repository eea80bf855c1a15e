import Foundation
import ParityFixtures
import XCTest

/// `rerank-admin distill` as a retraining job runs it: teacher output in, a checkpoint directory out that
/// rerank-admin (and transformers, where torch is present) scores; stopped runs resume.
final class DistillCommandTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("distill-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // The teacher's verdicts on the fixture input, as the pipeline would produce them.
        let teacher = try run(["teacher", "--model", TeacherExample.model.path, "--input", TeacherExample.input.path,
                               "--output", path("teacher.jsonl"), "--quiet"])
        XCTAssertEqual(teacher.status, 0, teacher.stderr)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func run(_ arguments: [String], input: String = "") throws -> (status: Int32, stdout: String, stderr: String) {
        try Admin.run(arguments, input: input)
    }

    var randomModel: String { ParityFixtures.root.appendingPathComponent("Tests/Fixtures/ranking/random_v4").path }

    func distill(_ output: String, _ extra: [String] = []) throws -> (status: Int32, stdout: String, stderr: String) {
        try run(["distill", "--model", randomModel, "--input", TeacherExample.input.path, "--teacher", path("teacher.jsonl"),
                 "--output", output, "--holdout", "0", "--lr", "1e-3", "--batch-queries", "2"] + extra)
    }

    func scores(_ model: String) throws -> [[Double]] {
        let inputs = try TeacherExample.inputs()
        let lines = try inputs.map {
            String(decoding: try JSONSerialization.data(withJSONObject: ["query": $0.query, "documents": $0.documents]), as: UTF8.self)
        }.joined(separator: "\n")
        let result = try run(["score", "--model", model, "--input", "-"], input: lines + "\n")
        XCTAssertEqual(result.status, 0, result.stderr)
        return try result.stdout.split(separator: "\n").map {
            try XCTUnwrap((try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["scores"] as? [Double])
        }
    }

    func testTheTrainedDirectoryScoresDifferentlyAndCheckpointsChangeNothing() throws {
        let unbroken = path("unbroken")
        let result = try distill(unbroken, ["--steps", "8"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("3 training queries"), result.stderr)
        XCTAssertNotEqual(try scores(unbroken), try scores(randomModel))

        // Checkpoints every 3 steps and at the end do not change the result; a rerun after the output is
        // lost rebuilds it from the last checkpoint.
        let resumed = path("resumed")
        let first = try distill(resumed, ["--steps", "8", "--checkpoint-every", "3"])
        XCTAssertEqual(first.status, 0, first.stderr)
        try FileManager.default.removeItem(atPath: resumed)
        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: resumed + ".checkpoint/state.json"))) as? [String: Any]
        XCTAssertEqual(state?["step"] as? Int, 8)
        let again = try distill(resumed, ["--steps", "8", "--checkpoint-every", "3"])
        XCTAssertTrue(again.stderr.contains("resuming"), again.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: resumed + "/model.safetensors")),
                       try Data(contentsOf: URL(fileURLWithPath: unbroken + "/model.safetensors")))
    }

    func testSIGTERMWritesACheckpointAndTheRerunFinishesLikeAnUnbrokenRun() throws {
        let unbroken = path("unbroken")
        XCTAssertEqual(try distill(unbroken, ["--steps", "60", "--quiet"]).status, 0)
        let stopped = path("stopped")
        let process = Process()
        process.executableURL = Admin.binary
        process.arguments = ["distill", "--model", randomModel, "--input", TeacherExample.input.path, "--teacher", path("teacher.jsonl"),
                             "--output", stopped, "--holdout", "0", "--lr", "1e-3", "--batch-queries", "2", "--steps", "60"]
        let stderr = Pipe()
        process.standardError = stderr
        try process.run()
        usleep(1_500_000)
        kill(process.processIdentifier, SIGTERM)
        let err = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 130, err)
        XCTAssertTrue(err.contains("stopped at step"), err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stopped))
        let rerun = try distill(stopped, ["--steps", "60"])
        XCTAssertEqual(rerun.status, 0, rerun.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: stopped + "/model.safetensors")),
                       try Data(contentsOf: URL(fileURLWithPath: unbroken + "/model.safetensors")))
    }

    /// transformers loads the written directory and computes the same logits (needs torch: runs where
    /// RERANK_TEST_TORCH_PYTHON is set).
    func testTransformersScoresTheTrainedDirectoryAsRerankAdminDoes() throws {
        guard let python = ProcessInfo.processInfo.environment["RERANK_TEST_TORCH_PYTHON"] else {
            throw XCTSkip("RERANK_TEST_TORCH_PYTHON is not set (loading the output in transformers needs torch)")
        }
        let output = path("trained")
        XCTAssertEqual(try distill(output, ["--steps", "5", "--quiet"]).status, 0)
        let inputs = try TeacherExample.inputs()
        let tokenized = try run(["tokenize", "--model", output, "--input", "-"], input: inputs.map {
            String(decoding: try JSONSerialization.data(withJSONObject: ["text": "Predict whether the given passage answer the question.\n\nQuestion: \($0.query)\n\nPassage: \($0.documents[0])\n\nDoes the passage answer the question?"]), as: UTF8.self)
        }.joined(separator: "\n") + "\n")
        let ids = try tokenized.stdout.split(separator: "\n").map {
            try XCTUnwrap((try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["ids"] as? [Int])
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [ParityFixtures.root.appendingPathComponent("Tests/Fixtures/gradients/score_with_transformers.py").path, output]
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        stdin.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: ["ids": ids, "vocab_ids": [158]]))
        try stdin.fileHandleForWriting.close()
        let answer = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let logits = try XCTUnwrap((try JSONSerialization.jsonObject(with: answer) as? [String: Any])?["logits"] as? [[Double]])
        let ours = try scores(output).map { $0[0] }
        XCTAssertEqual(ScoreComparison.mismatches(ours, logits.map { $0[0] }), [])
    }
}
