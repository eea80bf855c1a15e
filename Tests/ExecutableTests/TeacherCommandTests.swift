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

    /// Tests/Fixtures/endpoint/fake_completions.py in one of its modes, on a free port (standard library only).
    final class FakeEndpoint {
        let process = Process()
        let port: String

        init(_ mode: String, _ extra: [String] = []) throws {
            let environment = ProcessInfo.processInfo.environment
            let venv = FileManager.default.homeDirectoryForCurrentUser.path + "/.cache/rerank/test-venv/bin/python"
            if let python = environment["RERANK_TEST_PYTHON"] ?? (FileManager.default.isExecutableFile(atPath: venv) ? venv : nil) {
                process.executableURL = URL(fileURLWithPath: python)
                process.arguments = []
            } else {
                process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                process.arguments = ["python3"]
            }
            process.arguments! += [ParityFixtures.root.appendingPathComponent("Tests/Fixtures/endpoint/fake_completions.py").path,
                                   mode] + extra
            let stdout = Pipe()
            process.standardOutput = stdout
            process.standardError = FileHandle.nullDevice
            try process.run()
            var banner = Data()
            while !banner.contains(0x0A) {
                let chunk = stdout.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                banner += chunk
            }
            port = String(decoding: banner, as: UTF8.self).split(separator: " ").last
                .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
            guard Int(port) != nil else {
                process.terminate()
                throw XCTSkip("the fake completions endpoint did not start (python3 missing?)")
            }
        }

        var url: String { "http://127.0.0.1:\(port)/v1/completions" }

        deinit {
            process.terminate()
            process.waitUntilExit()
        }
    }

    func endpointTeacher(_ server: FakeEndpoint, _ output: String, _ extra: [String] = []) throws
        -> (status: Int32, stderr: String, seconds: Double)
    {
        let start = Date()
        let result = try admin(["teacher", "--endpoint", server.url, "--input", TeacherExample.input.path,
                                "--output", output, "--quiet"] + extra)
        return (result.status, result.stderr, Date().timeIntervalSince(start))
    }

    /// A server that trickles one byte every half second never goes idle, so only a deadline on the whole
    /// request ends it: --request-timeout, retried like a connection error.
    func testATricklingEndpointHitsTheRequestDeadline() throws {
        let server = try FakeEndpoint("trickle")
        let result = try endpointTeacher(server, path("out.jsonl"), ["--request-timeout", "1", "--retries", "1"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("no complete answer within --request-timeout 1"), result.stderr)
        XCTAssertTrue(result.stderr.contains("(after 2 attempts)"), result.stderr)
        XCTAssertLessThan(result.seconds, 15, result.stderr)
        XCTAssertFalse(result.stderr.contains("Usage"), result.stderr)
    }

    /// An answer over --max-response-bytes is refused as it passes the cap, with a Content-Length, chunked or
    /// up to the connection's end, and reading stops there (a 3 GB answer used to be held whole, 8 GB of
    /// memory): the server cannot get more than the cap and the sockets' buffers out of its 256 MiB.
    func testAnAnswerOverTheResponseCapIsRefused() throws {
        for mode in ["huge", "huge-declared", "huge-chunked"] {
            let server = try FakeEndpoint(mode)
            let result = try endpointTeacher(server, path("\(mode).jsonl"), ["--max-response-bytes", "100000"])
            XCTAssertNotEqual(result.status, 0, mode)
            XCTAssertTrue(result.stderr.contains("over --max-response-bytes 100000"), "\(mode): \(result.stderr)")
            XCTAssertFalse(result.stderr.contains("attempts"), "an answer over the cap is not retried: \(result.stderr)")
            XCTAssertLessThan(result.seconds, 15, result.stderr)
            let state = try XCTUnwrap(try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(string: "http://127.0.0.1:\(server.port)/")!)) as? [String: Int])
            XCTAssertLessThan(try XCTUnwrap(state["sent"]), 64 << 20, "\(mode): the client read on past the cap")
        }
        // An answer within the cap in chunked transfer coding, a few bytes a chunk, is read whole.
        let server = try FakeEndpoint("ok-chunked")
        let result = try endpointTeacher(server, path("chunked.jsonl"))
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(try records(path("chunked.jsonl")).count, 3)
    }

    /// 503s are retried with backoff until the endpoint answers; a 404 is not retried.
    func testBusyAnswersAreRetriedAndAWrongRouteIsNot() throws {
        let server = try FakeEndpoint("busy-first", ["3"])
        let result = try endpointTeacher(server, path("busy.jsonl"), ["--concurrency", "1"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(try records(path("busy.jsonl")).map(\.wins), [[4, 4, 4, 4, 4], [3, 3, 3, 3], [5, 5, 5, 5, 5, 5]])
        let state = try XCTUnwrap(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(string: "http://127.0.0.1:\(server.port)/")!)) as? [String: Int])
        XCTAssertEqual(state["requests"], 62 + 3)
        let refused = try admin(["teacher", "--endpoint", "http://127.0.0.1:\(server.port)/v1/chat", "--input",
                                 TeacherExample.input.path, "--output", path("chat.jsonl"), "--quiet"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("HTTP 404: {\"error\": \"no such route\"}"), refused.stderr)
        XCTAssertFalse(refused.stderr.contains("attempts"), refused.stderr)
    }

    /// Answers whose top log-probabilities hold neither A nor B used to count as ties, and a run of them
    /// exited 0 with the first-stage order as the teacher's ranking. Now a query with more of them than
    /// --max-missing-answers is not written and the run fails, saying what the endpoint answered instead.
    func testAnswersWithoutAOrBFailTheQueryAndSayWhy() throws {
        let cases: [(String, [String])] = [
            ("chat", ["query q1: 20 of 20 answers hold neither A nor B", "\"Sure\" -0.1"]),
            ("strings", ["query q1: 20 of 20 answers hold neither A nor B", "a string, not a number"]),
        ]
        for (mode, messages) in cases {
            let server = try FakeEndpoint(mode)
            let out = path("\(mode).jsonl")
            let result = try endpointTeacher(server, out)
            XCTAssertNotEqual(result.status, 0, mode)
            for message in messages { XCTAssertTrue(result.stderr.contains(message), "\(mode): \(result.stderr)") }
            XCTAssertTrue(result.stderr.contains("--max-missing-answers 0.1"), result.stderr)
            XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), "", "nothing of that query is written")
        }
        // One such answer in q1's 20 is under the limit: the run goes on and says how many there were.
        let server = try FakeEndpoint("missing-first", ["1"])
        let out = path("some.jsonl")
        let result = try endpointTeacher(server, out)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("1 of 62 answers held neither A nor B"), result.stderr)
        XCTAssertEqual(try records(out).count, 3)
    }

    /// NaN and infinite log-probabilities (Python's json.dumps writes them bare; they are not JSON) are named.
    func testNonFiniteLogProbabilitiesAreNamed() throws {
        for (mode, word) in [("nan", "NaN"), ("infinity", "Infinity")] {
            let server = try FakeEndpoint(mode)
            let result = try endpointTeacher(server, path("\(mode).jsonl"))
            XCTAssertNotEqual(result.status, 0, mode)
            XCTAssertTrue(result.stderr.contains("the log-probability of \" A\" is \(word)"), "\(mode): \(result.stderr)")
        }
        let server = try FakeEndpoint("ok")
        let result = try endpointTeacher(server, path("ok.jsonl"))
        XCTAssertEqual(result.status, 0, result.stderr)
        // Every prompt prefers A: each ordered pair gives its first candidate the win, so wins are all equal.
        XCTAssertEqual(try records(path("ok.jsonl")).map(\.wins), [[4, 4, 4, 4, 4], [3, 3, 3, 3], [5, 5, 5, 5, 5, 5]])
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
