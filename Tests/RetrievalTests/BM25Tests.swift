import Foundation
import XCTest
@testable import Retrieval

/// BM25 against rank_bm25 (Tests/Fixtures/retrieval, made by Scripts/fixtures/make_ir_fixtures.py).
final class BM25Tests: XCTestCase {
    static let directory = RetrievalMetricsTests.directory

    struct QueryExpectation: Decodable {
        let tokens: [String]
        let scores: [String: Double]
    }

    struct Expected: Decodable {
        let stopwords: [String: QueryExpectation]
        let no_stopwords: [String: QueryExpectation]
    }

    func path(_ name: String) -> String { Self.directory.appendingPathComponent(name).path }

    func testTokensAndScoresEqualRankBM25() throws {
        let expected = try JSONDecoder().decode(
            Expected.self, from: Data(contentsOf: Self.directory.appendingPathComponent("expected_bm25.json")))
        let queries = try readQueries(path("queries.jsonl"))
        XCTAssertEqual(queries.map(\.id), try readQueries(path("queries.tsv")).map(\.id))
        XCTAssertEqual(queries.map(\.text), try readQueries(path("queries.tsv")).map(\.text))
        for (removesStopwords, table) in [(true, expected.stopwords), (false, expected.no_stopwords)] {
            let tokenizer = BM25Tokenizer(removesStopwords: removesStopwords)
            var index = BM25Index()
            try forEachCorpusDocument(in: path("corpus.jsonl")) { index.add(docid: $0.id, tokens: tokenizer.tokens($0.indexedText)) }
            index.finish()
            XCTAssertEqual(index.count, 300)
            var compared = 0
            for query in queries {
                let reference = try XCTUnwrap(table[query.id])
                let tokens = tokenizer.tokens(query.text)
                XCTAssertEqual(tokens, reference.tokens, query.text)
                let scores = Dictionary(uniqueKeysWithValues: index.scores(tokens).map { (index.docids[Int($0.document)], $0.score) })
                XCTAssertEqual(Set(scores.keys), Set(reference.scores.keys), query.id)
                for (docid, score) in reference.scores {
                    XCTAssertEqual(try XCTUnwrap(scores[docid]), score, accuracy: 1e-9 * max(1, abs(score)), "\(query.id) \(docid)")
                    compared += 1
                }
                // Top-k: score descending, ties by docid ascending.
                let top = index.top(tokens, k: 10)
                let want = reference.scores.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(10)
                XCTAssertEqual(top.map(\.docid), want.map(\.key), query.id)
            }
            XCTAssertGreaterThan(compared, 1000)
        }
    }

    func testTokenizerKeepsLettersAndDigitsOfEveryScript() {
        let tokenizer = BM25Tokenizer(removesStopwords: false)
        XCTAssertEqual(tokenizer.tokens("The x86_64 café, 東京 O'Brien 3.14 ½"), ["the", "x86", "64", "café", "東京", "o", "brien", "3", "14", "½"])
        XCTAssertEqual(BM25Tokenizer().tokens("The rain in Spain"), ["rain", "spain"])
        // Python's lower(): a final capital sigma becomes ς, an inner one σ.
        XCTAssertEqual(tokenizer.tokens("ΣΊΣΥΦΟΣ ΟΔΥΣΣΕΥΣ"), ["σίσυφος", "οδυσσευς"])
    }

    func testMalformedCorpusLineNamesFileAndLine() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("corpus-\(UUID()).jsonl")
        defer { try? FileManager.default.removeItem(at: url) }
        try "{\"_id\": \"a\", \"text\": \"x\"}\n{\"text\": \"no id\"}\n".write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try forEachCorpusDocument(in: url.path) { _ in }) {
            XCTAssertEqual("\($0)", "\(url.path), line 2: not a corpus line {\"_id\", \"title\"?, \"text\"}: missing \"_id\"")
        }
    }
}
