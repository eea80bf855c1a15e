import Foundation
import ParityFixtures
import XCTest

/// `rerank-admin teacher` and `teacher-merge` as a cron job or a Kubernetes Indexed Job runs them.
final class TeacherCommandTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("teacher-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    @discardableResult
    func admin(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
        let result = try Admin.run(arguments)
        return (result.status, result.stderr)
    }

    func teacher(_ output: String, input: String = TeacherExample.input.path, _ extra: [String] = []) throws
        -> (status: Int32, stderr: String)
    {
        try admin(["teacher", "--model", TeacherExample.model.path, "--input", input, "--output", output] + extra)
    }

    struct Record: Decodable, Equatable {
        let qid: String
        let docids: [String]
        let wins: [Double]
        let ranking: [String]
    }

    func records(_ file: String) throws -> [Record] {
        try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(Record.self, from: Data($0.utf8)) }
    }

    func testOutputMatchesTheTransformersTeacherForEveryMethod() throws {
        let expected = try TeacherExample.all()
        let cases: [([String], (TeacherExample) -> ([Double], [String]))] = [
            ([], { ($0.wins, $0.ranking) }),
            (["--method", "sliding", "--passes", "1"], { ($0.sliding1.wins, $0.sliding1.ranking) }),
            (["--method", "sliding", "--passes", "2"], { ($0.sliding2.wins, $0.sliding2.ranking) }),
        ]
        for (number, (flags, verdict)) in cases.enumerated() {
            let out = path("out\(number).jsonl")
            let result = try teacher(out, flags)
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertTrue(result.stderr.contains("3 of 3 queries"), result.stderr)
            let got = try records(out)
            XCTAssertEqual(got.map(\.qid), ["q1", "1", "q3"])
            for (record, example) in zip(got, expected) {
                XCTAssertEqual(record.docids, example.docids)
                XCTAssertEqual(record.wins, verdict(example).0, "\(flags) \(example.qid)")
                XCTAssertEqual(record.ranking, verdict(example).1, "\(flags) \(example.qid)")
            }
        }
    }

    /// A run killed mid-line and missing its last queries continues to exactly the uninterrupted output.
    func testARerunKeepsWholeLinesDropsATornOneAndFinishesTheRest() throws {
        let full = path("full.jsonl"), partial = path("partial.jsonl")
        XCTAssertEqual(try teacher(full).status, 0)
        let text = try String(contentsOfFile: full, encoding: .utf8)
        let firstLine = text.split(separator: "\n")[0]
        try Data((firstLine + "\n" + "{\"qid\":\"1\",\"docids\":[\"0\"").utf8).write(to: URL(fileURLWithPath: partial))
        try FileManager.default.copyItem(atPath: full + ".job.json", toPath: partial + ".job.json")
        let result = try teacher(partial)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("resuming, 1 of 3 queries already done"), result.stderr)
        XCTAssertEqual(try String(contentsOfFile: partial, encoding: .utf8), text)
        // Finished: a third run adds nothing.
        XCTAssertEqual(try teacher(partial).status, 0)
        XCTAssertEqual(try String(contentsOfFile: partial, encoding: .utf8), text)
    }

    func testAnotherJobsOutputIsRefused() throws {
        let out = path("out.jsonl")
        XCTAssertEqual(try teacher(out).status, 0)
        let result = try teacher(out, ["--method", "sliding"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("belongs to another job (method was allpairs, now sliding:1)"), result.stderr)
        try Data("{}\n".utf8).write(to: URL(fileURLWithPath: path("foreign.jsonl")))
        let foreign = try teacher(path("foreign.jsonl"))
        XCTAssertTrue(foreign.stderr.contains("has no"), foreign.stderr)
    }

    /// Many queries, so a kill lands mid-job; the resumed file equals an uninterrupted run line for line.
    func bigInput(queries: Int) throws -> String {
        let inputs = try TeacherExample.inputs()
        var lines: [String] = []
        for q in 0..<queries {
            let base = inputs[q % inputs.count]
            let object: [String: Any] = ["qid": "big\(q)", "query": base.query + " \(q)", "documents": base.documents]
            lines.append(String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self))
        }
        let file = path("big.jsonl")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: file))
        return file
    }

    func interruptedRun(_ output: String, input: String, signal: Int32) throws -> Int32 {
        let process = Process()
        process.executableURL = Admin.binary
        process.arguments = ["teacher", "--model", TeacherExample.model.path, "--input", input, "--output", output,
                             "--quiet", "--batch-size", "4"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: output, encoding: .utf8), text.split(separator: "\n").count >= 5 { break }
            usleep(2_000)
        }
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        return process.terminationStatus
    }

    func testKilledAndSignalledRunsResumeExactly() throws {
        let input = try bigInput(queries: 120)
        let reference = path("reference.jsonl")
        XCTAssertEqual(try teacher(reference, input: input, ["--quiet"]).status, 0)
        let expected = try String(contentsOfFile: reference, encoding: .utf8)
        XCTAssertEqual(expected.split(separator: "\n").count, 120)
        for (name, signal) in [("killed", SIGKILL), ("terminated", SIGTERM), ("interrupted", SIGINT)] {
            let out = path("\(name).jsonl")
            let status = try interruptedRun(out, input: input, signal: signal)
            let kept = try records(out)
            XCTAssertLessThan(kept.count, 120, "\(name): the job finished before the signal; make it longer")
            if signal != SIGKILL { XCTAssertEqual(status, 130, name) }
            let rerun = try teacher(out, input: input)
            XCTAssertEqual(rerun.status, 0, rerun.stderr)
            XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), expected, name)
        }
    }

    func testShardsCoverEveryQueryOnceAndMergeChecksThem() throws {
        let input = try bigInput(queries: 30)
        let whole = path("whole.jsonl")
        XCTAssertEqual(try teacher(whole, input: input, ["--quiet"]).status, 0)
        let shards = (0..<3).map { path("shard\($0).jsonl") }
        for (index, shard) in shards.enumerated() {
            XCTAssertEqual(try teacher(shard, input: input, ["--quiet", "--shard", "\(index)/3"]).status, 0)
        }
        let sizes = try shards.map { try records($0).count }
        XCTAssertEqual(sizes.reduce(0, +), 30)
        XCTAssertFalse(sizes.contains(0), "\(sizes)")
        let merged = path("merged.jsonl")
        let result = try admin(["teacher-merge", "--output", merged] + shards.reversed())
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(try records(merged).sorted { $0.qid < $1.qid }, try records(whole).sorted { $0.qid < $1.qid })

        let missing = try admin(["teacher-merge", "--output", path("m1.jsonl"), shards[0], shards[2]])
        XCTAssertTrue(missing.stderr.contains("shard 1/3 is missing"), missing.stderr)
        let twice = try admin(["teacher-merge", "--output", path("m2.jsonl"), shards[0], shards[1], shards[1], shards[2]])
        XCTAssertTrue(twice.stderr.contains("shard 1/3 is given twice"), twice.stderr)
        // An unfinished shard: its last line removed.
        let lines = try String(contentsOfFile: shards[2], encoding: .utf8).split(separator: "\n")
        try Data((lines.dropLast().joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: shards[2]))
        let unfinished = try admin(["teacher-merge", "--output", path("m3.jsonl")] + shards)
        XCTAssertTrue(unfinished.stderr.contains("has not finished"), unfinished.stderr)
        // A query in two shards.
        try Data((lines.joined(separator: "\n") + "\n" + lines[0] + "\n").utf8).write(to: URL(fileURLWithPath: shards[2]))
        let doubled = try admin(["teacher-merge", "--output", path("m4.jsonl")] + shards)
        XCTAssertTrue(doubled.stderr.contains("is in both"), doubled.stderr)
        for name in ["m1", "m2", "m3", "m4"] { XCTAssertFalse(FileManager.default.fileExists(atPath: path("\(name).jsonl"))) }
    }

    func testRunCorpusAndQueriesAsInput() throws {
        let inputs = try TeacherExample.inputs()
        let example = try TeacherExample.all()[0]
        var corpus = "", run = ""
        for (rank, (docid, text)) in zip(example.docids, inputs[0].documents).enumerated() {
            let object = ["_id": docid, "title": "", "text": text]
            corpus += String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self) + "\n"
            run += "q1 Q0 \(docid) \(rank + 1) \(100 - rank) bm25\n"
        }
        corpus += "{\"_id\": \"unused\", \"text\": \"not in the run\"}\n"
        try Data(corpus.utf8).write(to: URL(fileURLWithPath: path("corpus.jsonl")))
        try Data(run.utf8).write(to: URL(fileURLWithPath: path("run.trec")))
        try Data("q1\t\(inputs[0].query)\n".utf8).write(to: URL(fileURLWithPath: path("queries.tsv")))
        let out = path("out.jsonl")
        let result = try admin(["teacher", "--model", TeacherExample.model.path, "--run", path("run.trec"),
                                "--corpus", path("corpus.jsonl"), "--queries", path("queries.tsv"), "--output", out])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(try records(out), [Record(qid: "q1", docids: example.docids, wins: example.wins,
                                                 ranking: example.ranking)])
    }

    func testBadInputNamesFileAndLine() throws {
        let file = path("bad.jsonl")
        try Data("{\"query\": \"q\", \"documents\": [\"a\", \"b\"]}\n{\"query\": \"q\"}\n".utf8)
            .write(to: URL(fileURLWithPath: file))
        let result = try teacher(path("out.jsonl"), input: file)
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("bad.jsonl, line 2: missing key \"documents\""), result.stderr)
        let shard = try teacher(path("out2.jsonl"), ["--shard", "3/3"])
        XCTAssertTrue(shard.stderr.contains("--shard must be i/n"), shard.stderr)
    }

    /// The endpoint backend against a live OpenAI-compatible server over transformers (a tiny decoder-only
    /// teacher); its first requests fail with 503 to exercise the retries. Needs torch: runs where
    /// RERANK_TEST_TORCH_PYTHON names a Python with requirements-transformers5.txt installed.
    func testEndpointTeacherAgainstALiveCompletionsServer() throws {
        guard let python = ProcessInfo.processInfo.environment["RERANK_TEST_TORCH_PYTHON"] else {
            throw XCTSkip("RERANK_TEST_TORCH_PYTHON is not set (the completions server needs torch)")
        }
        let server = Process()
        server.executableURL = URL(fileURLWithPath: python)
        server.arguments = [ParityFixtures.root.appendingPathComponent("Tests/Fixtures/endpoint/completions_server.py").path,
                            TeacherExample.directory.appendingPathComponent("causal-model").path, "--fail-first", "5"]
        let stdout = Pipe()
        server.standardOutput = stdout
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        var banner = Data()
        while !banner.contains(0x0A) {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { return XCTFail("the completions server exited") }
            banner += chunk
        }
        let port = try XCTUnwrap(String(decoding: banner, as: UTF8.self).split(separator: " ").last.map {
            $0.trimmingCharacters(in: .whitespacesAndNewlines) })
        let out = path("endpoint.jsonl")
        let result = try admin(["teacher", "--endpoint", "http://127.0.0.1:\(port)/v1/completions",
                                "--input", TeacherExample.input.path, "--output", out, "--concurrency", "4"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let expected = try records(TeacherExample.directory.appendingPathComponent("expected_endpoint.jsonl").path)
        XCTAssertEqual(try records(out), expected)
        XCTAssertNotEqual(expected.map(\.wins), try TeacherExample.all().map(\.wins))
        let refused = try admin(["teacher", "--endpoint", "http://127.0.0.1:\(port)/v1/chat", "--input",
                                 TeacherExample.input.path, "--output", path("chat.jsonl"), "--retries", "0"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("HTTP 404"), refused.stderr)
    }
}
