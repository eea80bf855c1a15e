import Foundation
import ParityFixtures
import XCTest

/// `rerank-admin pipeline` as cron runs it: every stage, resumption, the lock, the gate, captured traffic.
final class PipelineTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try Admin.writeSmallCorpus(in: root, seed: 2026)
        XCTAssertEqual(try admin(["publish", randomModel, "--store", path("store")]).status, 0)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    var randomModel: String { ParityFixtures.root.appendingPathComponent("Tests/Fixtures/ranking/random_v4").resolvingSymlinksInPath().path }
    func path(_ name: String) -> String { root.appendingPathComponent(name).path }
    func current() throws -> String { try FileManager.default.destinationOfSymbolicLink(atPath: path("store/current")) }

    @discardableResult
    func admin(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) { try Admin.run(arguments) }

    func pipeline(_ extra: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try admin(["pipeline", "--work-dir", path("work"), "--store", path("store"),
                   "--teacher-model", TeacherExample.model.path, "--top-k", "4", "--top-m", "4", "--steps", "4",
                   "--lr", "1e-3", "--holdout", "0.3", "--max-regression", "2"] + extra)
    }

    func testEveryStageRunsAndARerunResumesInsteadOfRepeating() throws {
        let before = try current()
        let config = ["corpus": path("corpus.jsonl"), "queries": path("queries.tsv")]
        try JSONSerialization.data(withJSONObject: config).write(to: root.appendingPathComponent("retrain.json"))
        let first = try pipeline(["--config", path("retrain.json")])
        XCTAssertEqual(first.status, 0, first.stderr)
        for stage in ["pipeline: candidates", "pipeline: teacher", "pipeline: distill", "held-out Kendall tau", "pipeline: publish"] {
            XCTAssertTrue(first.stderr.contains(stage), "\(stage): \(first.stderr)")
        }
        XCTAssertNotEqual(try current(), before)
        for name in ["candidates.trec", "teacher-input.jsonl", "teacher.jsonl", "student/model.safetensors", "distill-report.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: path("work/\(name)")), name)
        }
        let published = try current()
        let again = try pipeline(["--config", path("retrain.json")])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("candidates: done in an earlier run"), again.stderr)
        XCTAssertTrue(again.stderr.contains("distill: done in an earlier run"), again.stderr)
        XCTAssertEqual(try current(), published)
    }

    /// JSON numbers equal to 1 are numbers, never the boolean true (which used to turn `"steps": 1` into a
    /// bare `--steps`), and true is a flag: every value is read as the type of its flag.
    func testConfigNumbersEqualToOneAreNumbersAndBooleansAreFlags() throws {
        let config = """
            {"work-dir": "\(path("work"))", "store": "\(path("store"))", "teacher-model": "\(TeacherExample.model.path)",
             "corpus": "\(path("corpus.jsonl"))", "queries": "\(path("queries.tsv"))", "top-k": 4, "top-m": 4,
             "steps": 1, "batch-queries": 1, "keep": 1, "lr": 1e-3, "holdout": 0.3, "max-regression": 2, "quiet": true}
            """
        try Data(config.utf8).write(to: root.appendingPathComponent("retrain.json"))
        let result = try admin(["pipeline", "--config", path("retrain.json")])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertFalse(result.stderr.contains("pipeline: candidates"), "\"quiet\": true is --quiet: \(result.stderr)")
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent(
            "work/distill-report.json"))) as? [String: Any])
        XCTAssertEqual(report["steps"] as? Int, 1)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("store/versions")).count, 1, "--keep 1")
    }

    /// A value of the wrong type, or a key that is no flag, is refused naming the file and the key, without
    /// usage text; nothing runs.
    func testConfigValuesOfTheWrongTypeNameTheFileAndKey() throws {
        let cases: [(String, String)] = [
            (#"{"steps": true}"#, #""steps" must be an integer"#),
            (#"{"steps": 1.5}"#, #""steps" must be an integer"#),
            (#"{"lr": "fast"}"#, #""lr" must be a number"#),
            (#"{"quiet": 1}"#, #""quiet" must be true or false"#),
            (#"{"corpus": 3}"#, #""corpus" must be a string"#),
            (#"{"stepz": 3}"#, #""stepz" is not a pipeline flag"#),
            (#"[1, 2]"#, "not a JSON object"),
        ]
        for (number, (text, message)) in cases.enumerated() {
            let file = path("bad\(number).json")
            try Data(text.utf8).write(to: URL(fileURLWithPath: file))
            let result = try admin(["pipeline", "--config", file, "--work-dir", path("work"), "--store", path("store")])
            XCTAssertNotEqual(result.status, 0, text)
            XCTAssertTrue(result.stderr.contains("\(file): \(message)"), "\(text): \(result.stderr)")
            XCTAssertFalse(result.stderr.contains("Usage"), "\(text): \(result.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("work")))
    }

    func testAHeldLockRefusesASecondRun() throws {
        try FileManager.default.createDirectory(atPath: path("work"), withIntermediateDirectories: true)
        let fd = open(path("work/.lock"), O_RDWR | O_CREAT, 0o644)
        defer { close(fd) }
        XCTAssertEqual(flock(fd, LOCK_EX), 0)
        let refused = try pipeline(["--corpus", path("corpus.jsonl"), "--queries", path("queries.tsv")])
        XCTAssertEqual(refused.status, 75, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("another run holds"), refused.stderr)
    }

    func testTheGateRefusesAStudentWorseThanTheCurrentModel() throws {
        let before = try current()
        // A negative allowance demands the student beat the current model by 2 in Kendall tau: impossible.
        let refused = try pipeline(["--corpus", path("corpus.jsonl"), "--queries", path("queries.tsv"),
                                    "--max-regression=-2"])
        XCTAssertEqual(refused.status, 3, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("not publishing"), refused.stderr)
        XCTAssertEqual(try current(), before)
    }

    /// Requests captured by a live rerankd become the pipeline's queries and candidates.
    func testCapturedTrafficFeedsThePipeline() throws {
        let server = try RerankdProcessTests.Server(arguments: ["--model", randomModel, "--capture-dir", path("captured"),
                                                                "--capture-rate", "1"])
        XCTAssertGreaterThan(server.port, 0, server.output)
        // 24 queries with random ids: with half held out, either half is empty with probability 2 x 2^-24
        // (with 10 it was 2 x 2^-10, and one CI run met it).
        let words = ["river", "music", "city", "school", "road", "sun", "water", "game", "house", "film", "light", "rain"]
        let queries = ["how do rainbows form"] + (1..<24).map { "\(words[$0 % 12]) \(words[($0 * 5 + 1) % 12])" }
        for query in queries {
            let body = try JSONSerialization.data(withJSONObject: ["query": query, "texts": ["rain and light", "a road film", "water"]])
            let answer = try RerankdProcessTests.curl(["http://127.0.0.1:\(server.port)/rerank", "-H", "Content-Type: application/json",
                                                       "-d", String(decoding: body, as: UTF8.self)])
            XCTAssertTrue(answer.hasPrefix("[{"), answer)
        }
        kill(server.process.processIdentifier, SIGTERM)
        server.process.waitUntilExit()
        let result = try pipeline(["--captured", path("captured"), "--holdout", "0.5"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let input = try String(contentsOfFile: path("work/teacher-input.jsonl"), encoding: .utf8)
        XCTAssertEqual(input.split(separator: "\n").count, queries.count)
        XCTAssertTrue(input.contains("how do rainbows form"), input)
        XCTAssertEqual(try String(contentsOfFile: path("work/teacher.jsonl"), encoding: .utf8).split(separator: "\n").count, queries.count)
    }

    /// The sharded teacher of Deploy/kubernetes: stop after the teacher input, label it in two shards, merge,
    /// and the next run takes the merged output as its finished teacher stage.
    func testAShardedTeacherFillsInTheTeacherStage() throws {
        let data = ["--corpus", path("corpus.jsonl"), "--queries", path("queries.tsv")]
        let prepared = try pipeline(data + ["--stop-after", "teacher-input"])
        XCTAssertEqual(prepared.status, 0, prepared.stderr)
        XCTAssertTrue(prepared.stderr.contains("stopping after teacher-input"), prepared.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("work/teacher.jsonl")))
        // The run's teacher settings, for the shard pods: never a second copy of --top-k or the model to keep in step.
        let settings = try String(contentsOfFile: path("work/teacher.env"), encoding: .utf8)
        XCTAssertTrue(settings.contains("TEACHER_MODEL='\(TeacherExample.model.path)'\nTOP_K=4\n"), settings)
        for index in 0..<2 {
            // The teacher Job's own command line (2-teacher.yaml), with this run's work directory for /data/retrain/$RUN.
            let labelled = try Admin.runProcess("/bin/sh", ["-c", #". "$1/teacher.env" && exec "$0" teacher --model "$TEACHER_MODEL" "#
                + #"--top-k "$TOP_K" --input "$1/teacher-input.jsonl" --output "$1/teacher.shard-$2.jsonl" --shard "$2/2" --quiet"#,
                Admin.binary.path, path("work"), "\(index)"])
            XCTAssertEqual(labelled.status, 0, labelled.stderr)
        }
        // The merge Job's own command line: its glob must take the shards and not their .job.json files.
        let merge = Process()
        merge.executableURL = URL(fileURLWithPath: "/bin/sh")
        merge.arguments = ["-c", #"exec "$0" teacher-merge --output "$1/teacher.jsonl" "$1"/teacher.shard-*.jsonl"#,
                           Admin.binary.path, path("work")]
        try merge.run()
        merge.waitUntilExit()
        XCTAssertEqual(merge.terminationStatus, 0)
        let merged = try String(contentsOfFile: path("work/teacher.jsonl"), encoding: .utf8)

        let finished = try pipeline(data + ["--stop-after", "teacher"])
        XCTAssertEqual(finished.status, 0, finished.stderr)
        XCTAssertTrue(finished.stderr.contains("candidates: done in an earlier run"), finished.stderr)
        XCTAssertEqual(try String(contentsOfFile: path("work/teacher.jsonl"), encoding: .utf8), merged,
                       "the merged output is this job's finished teacher stage (another job's would be refused)")
        let refused = try admin(["pipeline", "--work-dir", path("work"), "--store", path("store"), "--teacher-model",
                                 TeacherExample.model.path, "--stop-after", "gate"] + data)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("--stop-after is one of"), refused.stderr)
    }
}
