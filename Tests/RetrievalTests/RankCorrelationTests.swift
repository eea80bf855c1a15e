import Foundation
import XCTest
@testable import Retrieval

/// Kendall's tau-b against scipy (Tests/Fixtures/retrieval/expected_kendall.json, make_ir_fixtures.py).
final class RankCorrelationTests: XCTestCase {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/retrieval")

    struct Expected: Decodable {
        let mean: Double
        let per_query: [String: Double]
    }

    struct TeacherLine: Decodable {
        let qid: String
        let ranking: [String]
    }

    func teacherRankings() throws -> [String: [String]] {
        let text = try String(contentsOf: Self.directory.appendingPathComponent("teacher.jsonl"), encoding: .utf8)
        let lines = try text.split(separator: "\n").map { try JSONDecoder().decode(TeacherLine.self, from: Data($0.utf8)) }
        return Dictionary(uniqueKeysWithValues: lines.map { ($0.qid, $0.ranking) })
    }

    func testTauBPerQueryEqualsScipy() throws {
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: Self.directory.appendingPathComponent("expected_kendall.json")))
        let run = try TRECRun.read(Self.directory.appendingPathComponent("run.trec").path)
        let taus = kendallTauPerQuery(run: run, reference: try teacherRankings())
        XCTAssertEqual(Set(taus.keys), Set(expected.per_query.keys))
        for (qid, tau) in taus {
            XCTAssertEqual(tau, expected.per_query[qid]!, accuracy: 1e-12, qid)
        }
        XCTAssertEqual(taus.values.reduce(0, +) / Double(taus.count), expected.mean, accuracy: 1e-12)
    }

    func testTauBasics() {
        XCTAssertEqual(kendallTauB([1, 2, 3, 4], [10, 20, 30, 40]), 1)
        XCTAssertEqual(kendallTauB([1, 2, 3, 4], [4, 3, 2, 1]), -1)
        XCTAssertNil(kendallTauB([1, 2, 3], [5, 5, 5]))
        XCTAssertNil(kendallTauB([1], [1]))
        // Ties in one scoring: tau-b = (C - D) / sqrt((n0 - n1) (n0 - n2)) = 2 / sqrt(3 * 2).
        XCTAssertEqual(kendallTauB([1, 2, 3], [1, 2, 2])!, 2 / 6.0.squareRoot(), accuracy: 1e-15)
    }
}
