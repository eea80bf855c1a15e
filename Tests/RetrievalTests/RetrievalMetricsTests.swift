import Foundation
import XCTest
@testable import Retrieval

/// Metrics against pytrec_eval (Tests/Fixtures/retrieval, made by Scripts/fixtures/make_ir_fixtures.py).
final class RetrievalMetricsTests: XCTestCase {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/retrieval")

    struct Expected: Decodable {
        let mean: [String: Double]
        let per_query: [String: [String: Double]]
    }

    func path(_ name: String) -> String { Self.directory.appendingPathComponent(name).path }

    func expected() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: Self.directory.appendingPathComponent("expected_metrics.json")))
    }

    func testPerQueryAndMeanEqualPytrecEval() throws {
        let run = try TRECRun.read(path("run.trec"))
        let expected = try expected()
        for qrelsFile in ["qrels.trec", "qrels.tsv"] {
            let perQuery = RetrievalMetrics.perQuery(run: run, qrels: try Qrels.read(path(qrelsFile)))
            XCTAssertEqual(Set(perQuery.keys), Set(expected.per_query.keys), qrelsFile)
            for (qid, metrics) in perQuery {
                for (name, value) in metrics.named {
                    XCTAssertEqual(value, try XCTUnwrap(expected.per_query[qid]?[name]), accuracy: 1e-9, "\(qid) \(name)")
                }
            }
            for (name, value) in RetrievalMetrics.mean(perQuery.values).named {
                XCTAssertEqual(value, try XCTUnwrap(expected.mean[name]), accuracy: 1e-9, name)
            }
        }
    }

    /// The fixture can tell a right ranking from a wrong one: reversing every ranking changes the means.
    func testAReversedRunScoresDifferently() throws {
        var run = try TRECRun.read(path("run.trec"))
        run.scores = run.scores.mapValues { $0.mapValues { -$0 } }
        let mean = RetrievalMetrics.mean(RetrievalMetrics.perQuery(run: run, qrels: try Qrels.read(path("qrels.trec"))).values)
        XCTAssertGreaterThan(abs(mean.ndcg10 - (try expected().mean["ndcg@10"]!)), 0.01)
    }

    func testTiesAreBrokenByDocidDescending() {
        let run = TRECRun(scores: ["q": ["a": 1, "b": 1, "c": 2]])
        XCTAssertEqual(run.ranking("q"), ["c", "b", "a"])
    }

    func testMalformedLinesNameFileAndLine() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID()).trec")
        defer { try? FileManager.default.removeItem(at: url) }
        try "q1 Q0 d1 1 0.5 tag\nq1 Q0 d2 2 high tag\n".write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TRECRun.read(url.path)) {
            XCTAssertEqual("\($0)", "\(url.path), line 2: score 'high' is not a finite number")
        }
        try "q1 Q0 d1 1 0.5 tag\nq1 Q0 d1 2 0.4 tag\n".write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TRECRun.read(url.path)) {
            XCTAssertEqual("\($0)", "\(url.path), line 2: document d1 appears twice for query q1")
        }
        try "q1 0 d1\n".write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Qrels.read(url.path)) { XCTAssertTrue("\($0)".contains("line 1"), "\($0)") }
        XCTAssertThrowsError(try Qrels.read("/nonexistent/qrels")) {
            XCTAssertEqual("\($0)", "/nonexistent/qrels: No such file or directory")
        }
    }
}
