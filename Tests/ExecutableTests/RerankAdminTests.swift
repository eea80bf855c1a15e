import Foundation
import ParityFixtures
import XCTest

/// `rerank-admin score` and `tokenize` as a user runs them, against reference outputs.
final class RerankAdminTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func run(_ arguments: [String], input: String) throws -> (status: Int32, stdout: String, stderr: String) {
        try Admin.run(arguments, input: input)
    }

    func lines(_ path: String) throws -> [[String: Any]] {
        try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    /// Checkpoints written by transformers 4.46 and 5.23, every template, against transformers' scores.
    func testScoreMatchesTransformersForEveryTemplateAndCheckpoint() throws {
        for checkpoint in try ParityFixtures.checkpoints() {
            for template in Set(checkpoint.examples.map(\.template)).sorted() {
                let examples = checkpoint.examples.filter { $0.template == template }
                let input = try examples.map {
                    String(decoding: try JSONSerialization.data(withJSONObject: [
                        "query": $0.query, "documents": $0.documents]), as: UTF8.self)
                }.joined(separator: "\n")
                let result = try run(["score", "--model", checkpoint.directory.path, "--template", template,
                                      "--input", "-"], input: input + "\n")
                XCTAssertEqual(result.status, 0, result.stderr)
                XCTAssertTrue(result.stderr.contains("logits = "), result.stderr)
                let outputs = result.stdout.split(separator: "\n")
                XCTAssertEqual(outputs.count, examples.count, result.stdout)
                for (line, expected) in zip(outputs, examples) {
                    let output = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                    let scores = try XCTUnwrap(output["scores"] as? [Double])
                    XCTAssertEqual(ScoreComparison.mismatches(scores, expected.scores), [],
                                   "\(checkpoint.name), \(template), \(expected.query)")
                }
            }
        }
    }

    /// `eval` prints the contract's JSON object, equal to pytrec_eval's means (Tests/Fixtures/retrieval).
    func testEvalPrintsPytrecEvalMeans() throws {
        let directory = "Tests/Fixtures/retrieval/"
        let result = try run(["eval", "--run", directory + "run.trec", "--qrels", directory + "qrels.trec"], input: "")
        XCTAssertEqual(result.status, 0, result.stderr)
        let output = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let expected = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: Self.root
            .appendingPathComponent(directory + "expected_metrics.json"))) as? [String: Any])
        let mean = try XCTUnwrap(expected["mean"] as? [String: Double])
        XCTAssertEqual(Set(mean.keys), ["ndcg@1", "ndcg@5", "ndcg@10", "map@100", "recall@100"])
        for (name, value) in mean {
            XCTAssertEqual(try XCTUnwrap(output[name] as? Double), value, accuracy: 1e-9, name)
        }
        XCTAssertEqual(output["queries"] as? Int, 32)
        let perQuery = try run(["eval", "--run", directory + "run.trec", "--qrels", directory + "qrels.tsv",
                                "--per-query"], input: "")
        XCTAssertEqual(perQuery.stdout.split(separator: "\n").count, 33)
        let missing = try run(["eval", "--run", directory + "run.trec", "--qrels", "/nonexistent/qrels"], input: "")
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("/nonexistent/qrels: No such file or directory"), missing.stderr)
    }

    /// `eval --teacher` adds Kendall's tau-b against a teacher output, equal to scipy's.
    func testEvalKendallTauAgainstATeacherEqualsScipy() throws {
        let directory = "Tests/Fixtures/retrieval/"
        let result = try run(["eval", "--run", directory + "run.trec", "--teacher", directory + "teacher.jsonl"], input: "")
        XCTAssertEqual(result.status, 0, result.stderr)
        let output = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let expected = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: Self.root
            .appendingPathComponent(directory + "expected_kendall.json"))) as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(output["kendall_tau"] as? Double), try XCTUnwrap(expected["mean"] as? Double),
                       accuracy: 1e-12)
        XCTAssertEqual(output["kendall_queries"] as? Int, (expected["per_query"] as? [String: Any])?.count)
        XCTAssertNil(output["ndcg@10"])
        let neither = try run(["eval", "--run", directory + "run.trec"], input: "")
        XCTAssertTrue(neither.stderr.contains("give --qrels, --teacher or both"), neither.stderr)
    }

    /// `eval --model` reranks a run with the pointwise model: the reranked scores are transformers' scores
    /// of the same prompts, and the metrics are those of that reranked run.
    func testEvalWithAModelReranksTheRunFirst() throws {
        let checkpoint = try XCTUnwrap(try ParityFixtures.checkpoints().first)
        let examples = checkpoint.examples.filter { $0.template == "instructdistill" }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("eval-model-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var corpus = "", queries = "", runText = "", qrels = ""
        var expected: [String: [String: Double]] = [:]
        for (q, example) in examples.enumerated() {
            queries += String(decoding: try JSONSerialization.data(withJSONObject: ["_id": "q\(q)", "text": example.query]), as: UTF8.self) + "\n"
            for (d, (document, score)) in zip(example.documents, example.scores).enumerated() {
                let docid = "q\(q)d\(d)"
                corpus += String(decoding: try JSONSerialization.data(withJSONObject: ["_id": docid, "text": document]), as: UTF8.self) + "\n"
                runText += "q\(q) Q0 \(docid) \(d + 1) \(100 - d) bm25\n"  // first stage: document order
                qrels += "q\(q) 0 \(docid) \(d % 3)\n"
                expected["q\(q)", default: [:]][docid] = score
            }
        }
        for (name, text) in [("corpus.jsonl", corpus), ("queries.jsonl", queries), ("run.trec", runText), ("qrels.trec", qrels)] {
            try Data(text.utf8).write(to: directory.appendingPathComponent(name))
        }
        let file = { directory.appendingPathComponent($0).path }
        let result = try run(["eval", "--model", checkpoint.directory.path, "--run", file("run.trec"), "--corpus",
                              file("corpus.jsonl"), "--queries", file("queries.jsonl"), "--qrels", file("qrels.trec"),
                              "--output", file("reranked.trec"), "--quiet"], input: "")
        XCTAssertEqual(result.status, 0, result.stderr)
        var reranked: [String: [String: Double]] = [:]
        var order: [String: [String]] = [:]
        for line in try String(contentsOfFile: file("reranked.trec"), encoding: .utf8).split(separator: "\n") {
            let fields = line.split(separator: " ")
            reranked[String(fields[0]), default: [:]][String(fields[2])] = Double(fields[4])!
            order[String(fields[0]), default: []].append(String(fields[2]))
        }
        for (qid, scores) in expected {
            let docids = scores.keys.sorted()
            XCTAssertEqual(ScoreComparison.mismatches(docids.map { reranked[qid]?[$0] ?? .nan }, docids.map { scores[$0]! }), [], qid)
            XCTAssertEqual(order[qid], scores.sorted { $0.value > $1.value }.map(\.key), qid)
        }
        let output = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let evaluated = try run(["eval", "--run", file("reranked.trec"), "--qrels", file("qrels.trec")], input: "")
        let direct = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(evaluated.stdout.utf8)) as? [String: Any])
        let firstStage = try run(["eval", "--run", file("run.trec"), "--qrels", file("qrels.trec")], input: "")
        let before = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(firstStage.stdout.utf8)) as? [String: Any])
        for name in ["ndcg@1", "ndcg@5", "ndcg@10", "map@100", "recall@100"] {
            XCTAssertEqual(output[name] as? Double, direct[name] as? Double, name)  // same order of summation
            XCTAssertEqual((output["first_stage"] as? [String: Any])?[name] as? Double, before[name] as? Double, name)
        }
        XCTAssertNotEqual(output["ndcg@10"] as? Double, before["ndcg@10"] as? Double)
    }

    /// `candidates` writes a TREC run of BM25's top k, the scores rank_bm25 gives (Tests/Fixtures/retrieval).
    func testCandidatesWritesTheBM25TopKAsATRECRun() throws {
        let directory = "Tests/Fixtures/retrieval/"
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("run-\(UUID()).trec").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let result = try run(["candidates", "--corpus", directory + "corpus.jsonl", "--queries", directory + "queries.tsv",
                              "--top-k", "5", "--output", output], input: "")
        XCTAssertEqual(result.status, 0, result.stderr)
        let expected = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: Self.root
            .appendingPathComponent(directory + "expected_bm25.json"))) as? [String: Any])
        let table = try XCTUnwrap(expected["stopwords"] as? [String: [String: Any]])
        var lines: [String: [(String, Double)]] = [:]
        for line in try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n") {
            let fields = line.split(separator: " ")
            XCTAssertEqual(fields.count, 6)
            XCTAssertEqual(Int(fields[3]), (lines[String(fields[0])]?.count ?? 0) + 1, "ranks count from 1")
            lines[String(fields[0]), default: []].append((String(fields[2]), Double(fields[4])!))
        }
        for (qid, entry) in table {
            let scores = try XCTUnwrap(entry["scores"] as? [String: Double])
            let want = scores.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(5)
            XCTAssertEqual(lines[qid]?.map(\.0) ?? [], want.map(\.key), qid)
            for ((_, got), (_, score)) in zip(lines[qid] ?? [], want) {
                XCTAssertEqual(got, score, accuracy: 1e-9 * max(1, abs(score)), qid)
            }
        }
    }

    /// A corpus id with a space would make a TREC line of 7 fields that no reader can parse: `candidates`
    /// refuses it at the corpus line, and writes no run.
    func testCandidatesRefusesAnIdWithWhitespaceAtItsCorpusLine() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("candidates-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let corpus = directory.appendingPathComponent("corpus.jsonl").path
        let queries = directory.appendingPathComponent("queries.tsv").path
        let output = directory.appendingPathComponent("run.trec").path
        try Data("{\"_id\": \"c\", \"text\": \"rain\"}\n{\"_id\": \"a b\", \"text\": \"rain light\"}\n".utf8)
            .write(to: URL(fileURLWithPath: corpus))
        try Data("q1\train\n".utf8).write(to: URL(fileURLWithPath: queries))
        let result = try run(["candidates", "--corpus", corpus, "--queries", queries, "--output", output, "--quiet"], input: "")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("corpus.jsonl, line 2: document id \"a b\" contains whitespace"), result.stderr)
        XCTAssertFalse(result.stderr.contains("Usage"), result.stderr)
        XCTAssertEqual((try? String(contentsOfFile: output, encoding: .utf8)) ?? "", "", "no run is written")
    }

    /// A small model's vocabulary bounds the benchmark's random ids.
    func testBenchRunsOnASmallCheckpoint() throws {
        let result = try run(["bench", "--model", "Tests/Fixtures/ranking/random_v4", "--batch", "2", "--tokens", "16", "--iterations", "1"],
                             input: "")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("swift docs/s"), result.stdout)
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

    /// Runtime failures say what failed and which flag or file it concerns, exit 1 and print no usage text, and no
    /// Foundation error text (`Error Domain=NSCocoaErrorDomain ...`) reaches the user: some exited 64 with the usage
    /// screen (a run and qrels with no query in common), others printed Foundation's error objects.
    func testRuntimeFailuresNameTheFlagOrFileAndExitOneWithoutUsage() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("admin-errors-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let path = { scratch.appendingPathComponent($0).path }
        let file = path("a-file")  // a regular file: nothing can be created under it
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        try Data("q1 Q0 d1 1 1.0 x\nq1 Q0 d2 2 0.5 x\n".utf8).write(to: URL(fileURLWithPath: path("run.trec")))
        try Data("q2 0 d1 1\n".utf8).write(to: URL(fileURLWithPath: path("qrels.trec")))
        try Data(#"{"qid": "q9", "query": "q", "docids": ["d1", "d2"], "documents": ["a", "b"]}"#.utf8 + [0x0A])
            .write(to: URL(fileURLWithPath: path("input.jsonl")))
        let model = "Tests/Fixtures/ranking/random_v4"
        let fixtures = "Tests/Fixtures/retrieval/"
        let cases: [([String], [String])] = [
            (["eval", "--run", path("run.trec"), "--qrels", path("qrels.trec")],
             ["no query is both in --run", path("qrels.trec")]),
            (["distill", "--model", model, "--input", path("input.jsonl"), "--teacher-run", path("run.trec"),
              "--output", path("student"), "--quiet"],
             ["no training query", path("input.jsonl")]),
            (["candidates", "--corpus", fixtures + "corpus.jsonl", "--queries", fixtures + "queries.tsv",
              "--output", file + "/run.trec", "--quiet"],
             ["--output", file + "/run.trec", "Not a directory"]),
            (["bench", "--model", model, "--batch", "1", "--tokens", "8", "--iterations", "1",
              "--scores-out", file + "/scores.json"],
             ["--scores-out", file + "/scores.json", "Not a directory"]),
            (["score", "--model", model, "--input", "/nonexistent/input.jsonl"],
             ["--input", "/nonexistent/input.jsonl: No such file or directory"]),
            (["pipeline", "--work-dir", file + "/work", "--store", path("store"), "--corpus", "c", "--queries", "q",
              "--teacher-model", model, "--quiet"],
             ["--work-dir", file, "Not a directory"]),
            (["teacher", "--model", model, "--input", path("input.jsonl"), "--output", file + "/teacher.jsonl", "--quiet"],
             ["--output", file, "Not a directory"]),
            (["distill", "--model", model, "--input", path("input.jsonl"), "--teacher", "/nonexistent/teacher.jsonl",
              "--output", path("student"), "--quiet"],
             ["--teacher /nonexistent/teacher.jsonl: No such file or directory"]),
            (["pipeline", "--config", "/nonexistent/retrain.json"],
             ["--config", "/nonexistent/retrain.json: No such file or directory"]),
            (["pipeline", "--work-dir", path("work"), "--store", path("store"), "--captured", "/nonexistent/captured",
              "--teacher-model", model, "--student-model", model, "--quiet"],
             ["--captured", "/nonexistent/captured", "No such file or directory"]),
        ]
        for (arguments, fragments) in cases {
            let result = try run(arguments, input: "")
            let name = arguments.prefix(1).joined()
            XCTAssertEqual(result.status, 1, "\(name): \(result.stderr)")
            for fragment in fragments {
                XCTAssertTrue(result.stderr.contains(fragment), "\(name): \(fragment) not in \(result.stderr)")
            }
            XCTAssertFalse(result.stderr.contains("Usage"), "\(name): \(result.stderr)")
            XCTAssertFalse(result.stderr.contains("Error Domain"), "\(name): \(result.stderr)")
            XCTAssertFalse(result.stderr.contains("line 0"), "\(name): \(result.stderr)")
        }
    }

    /// A wrong command line (an unknown flag, a value out of range, flags that do not go together) exits 64, the
    /// usage code, and says which flag; candidates and teacher exited 1 for theirs.
    func testUsageErrorsExit64NamingTheFlag() throws {
        let fixtures = "Tests/Fixtures/retrieval/"
        let cases: [([String], String)] = [
            (["score", "--model", "m", "--no-such-flag"], "--no-such-flag"),
            (["candidates", "--corpus", fixtures + "corpus.jsonl", "--queries", fixtures + "queries.tsv", "--output", "-",
              "--top-k", "0"], "--top-k"),
            (["teacher", "--model", "m", "--endpoint", "http://x", "--input", "i", "--output", "o"], "--endpoint"),
            (["eval", "--run", fixtures + "run.trec"], "--qrels"),
            (["distill", "--model", "m", "--input", "i", "--output", "o"], "--teacher"),
            (["pipeline", "--work-dir", "w"], "--store"),
        ]
        for (arguments, flag) in cases {
            let result = try run(arguments, input: "")
            XCTAssertEqual(result.status, 64, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(flag), "\(arguments): \(result.stderr)")
        }
    }

    func testBadInputNamesTheLine() throws {
        let result = try run(["score", "--model", "Tests/Fixtures/ranking/random_v4", "--input", "-"],
                             input: "{\"query\": \"q\", \"documents\": [\"a\"]}\n\n{\"query\": 1}\n")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(result.stdout.split(separator: "\n").count, 1, "the good first line is still answered")
        XCTAssertTrue(result.stderr.contains("stdin, line 3"), result.stderr)
        let missing = try run(["score", "--model", "/nonexistent", "--input", "-"], input: "")
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("/nonexistent"), missing.stderr)
    }
}
