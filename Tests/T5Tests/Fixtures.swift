import Foundation
import XCTest

/// Locates Tests/Fixtures/t5 from this file's path (no SwiftPM resources) and decodes expected outputs.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/t5")

    /// Logits computed by transformers' T5ForConditionalGeneration (Scripts/fixtures/make_model_fixtures.py).
    struct Expected: Decodable {
        struct Case: Decodable {
            var prefix: [Int32]
            var vocab_ids: [Int32]
            var logits: [[Float]]
        }
        var inputs: [[Int32]]
        var cases: [Case]
        var seed: UInt64?
    }

    static func expected(_ relativePath: String) throws -> Expected {
        let data = try Data(contentsOf: directory.appendingPathComponent(relativePath))
        return try JSONDecoder().decode(Expected.self, from: data)
    }
}

/// Asserts agreement to 1e-4 relative (absolute for logits below 1 in magnitude).
func assertLogitsClose(_ actual: [[Float]], _ expected: [[Float]], _ message: String,
                       file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, message, file: file, line: line)
    for (rowActual, rowExpected) in zip(actual, expected) {
        XCTAssertEqual(rowActual.count, rowExpected.count, message, file: file, line: line)
        for (a, e) in zip(rowActual, rowExpected) {
            XCTAssertLessThanOrEqual(abs(a - e), 1e-4 * max(1, abs(e)), "\(message): got \(a), expected \(e)",
                                     file: file, line: line)
        }
    }
}
