import Foundation
import XCTest
@testable import Retrieval

/// Query and document ids end up as whitespace-separated TREC fields (runs, qrels), so every reader refuses
/// an id that is empty or holds whitespace, naming the file and line, instead of writing a run no reader
/// can parse or splitting a qrels line in the wrong place.
final class IdentifierTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ids-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func file(_ name: String, _ text: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func assertRefused(_ body: () throws -> Void, path: String, line: Int, mentioning text: String,
                       file: StaticString = #filePath, fileLine: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: fileLine) { error in
            guard let error = error as? DataFileError else { return XCTFail("\(error)", file: file, line: fileLine) }
            XCTAssertEqual(error.path, path, file: file, line: fileLine)
            XCTAssertEqual(error.line, line, "\(error)", file: file, line: fileLine)
            XCTAssertTrue(error.description.contains(text), error.description, file: file, line: fileLine)
        }
    }

    func testCorpusIdsWithWhitespaceOrEmptyAreRefusedWithFileAndLine() throws {
        for (id, shown) in [("a b", "\"a b\""), ("tab\there", "\"tab\\there\""), ("", "empty"), ("nbsp\u{00A0}x", "whitespace")] {
            let object = try JSONSerialization.data(withJSONObject: ["_id": id, "text": "rain"])
            let corpus = try file("corpus.jsonl", "{\"_id\": \"ok\", \"text\": \"sun\"}\n" + String(decoding: object, as: UTF8.self) + "\n")
            assertRefused({ try forEachCorpusDocument(in: corpus) { _ in } }, path: corpus, line: 2, mentioning: shown)
        }
        let fine = try file("fine.jsonl", "{\"_id\": \"doc-1/ä\", \"text\": \"rain\"}\n")
        var ids: [String] = []
        try forEachCorpusDocument(in: fine) { ids.append($0.id) }
        XCTAssertEqual(ids, ["doc-1/ä"])
    }

    func testQueryIdsWithWhitespaceAreRefusedInJSONLinesAndTSV() throws {
        let jsonl = try file("queries.jsonl", "{\"_id\": \"q1\", \"text\": \"a\"}\n{\"_id\": \"q 2\", \"text\": \"b\"}\n")
        assertRefused({ _ = try readQueries(jsonl) }, path: jsonl, line: 2, mentioning: "\"q 2\"")
        let tsv = try file("queries.tsv", "q1\ta\nq 2\tb\n")
        assertRefused({ _ = try readQueries(tsv) }, path: tsv, line: 2, mentioning: "\"q 2\"")
    }

    /// A BEIR qrels line whose corpus id holds a space used to be read as a TREC line with other fields.
    func testQrelsIdsWithWhitespaceAreRefusedNotMisread() throws {
        let beir = try file("qrels.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\tdoc 1\t2\n")
        assertRefused({ _ = try Qrels.read(beir) }, path: beir, line: 3, mentioning: "\"doc 1\"")
        let good = try file("good.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t0\n")
        XCTAssertEqual(try Qrels.read(good).grades, ["q1": ["d1": 1], "q2": ["d2": 0]])
        let trec = try file("qrels.trec", "q1 0 d1 1\nq1\t0\td2\t2\n")
        XCTAssertEqual(try Qrels.read(trec).grades, ["q1": ["d1": 1, "d2": 2]])
    }
}
