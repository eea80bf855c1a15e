import Foundation
import XCTest
@testable import Ranking

final class PromptTemplateTests: XCTestCase {
    func testPresetsRenderTheRecipeText() throws {
        let monoT5 = try PromptTemplate.preset(named: "monot5")
        XCTAssertEqual(monoT5.render(query: "q", passage: "p"), "Query: q Document: p Relevant:")
        XCTAssertEqual(monoT5.rule, .logSoftmax(positive: "▁true", negative: "▁false"))
        let distill = try PromptTemplate.preset(named: "instructdistill")
        XCTAssertEqual(distill.rule, .logit(piece: "▁Yes"))
        XCTAssertEqual(distill.maxPassageWords, 200)
        XCTAssertTrue(distill.render(query: "Q", passage: "P").hasSuffix(
            "Question: Q\n\nPassage: P\n\nDoes the passage answer the question?"))
    }

    func testPlaceholdersAreFilledInOnePass() throws {
        let monoT5 = PromptTemplate.monoT5
        XCTAssertEqual(monoT5.render(query: "{passage}", passage: "{query}"),
                       "Query: {passage} Document: {query} Relevant:")
    }

    func testUnknownPresetListsThePresets() {
        XCTAssertThrowsError(try PromptTemplate.preset(named: "bogus")) { error in
            XCTAssertEqual("\(error)", "unknown template 'bogus'; presets: instructdistill, monot5, rg-yesno")
        }
    }

    func testInvalidTemplatesAreRejected() {
        let cases: [(String, String)] = [
            ("Query: {query}", "exactly once"),
            ("{query} {passage} {passage}", "exactly once"),
            ("{query} {passage} {doc}", "unknown placeholder {doc}"),
            ("{query} {passage", "unclosed"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try PromptTemplate(name: "t", text: text, rule: .logit(piece: "▁Yes")), text) {
                XCTAssertTrue("\($0)".contains(expected), "\($0)")
            }
        }
        XCTAssertThrowsError(try PromptTemplate(name: "t", text: "{query}{passage}", maxPassageWords: 0,
                                                rule: .logit(piece: "▁Yes")))
    }

    func testPassageCutMatchesPythonSplitJoin() {
        // Expected values are Python's " ".join(s.split()[:n]).
        XCTAssertEqual(firstWords(of: "  a\tb\n\nc  d ", limit: 3).text, "a b c")
        XCTAssertEqual(firstWords(of: "a\u{1C}b\u{A0}c\u{3000}d", limit: 10).text, "a b c d")
        XCTAssertEqual(firstWords(of: "a\u{200B}b", limit: 10).text, "a\u{200B}b")
        XCTAssertEqual(firstWords(of: "   ", limit: 5).text, "")
        XCTAssertEqual(firstWords(of: "x y", limit: 1).text, "x")
    }

    /// A cut is reported only when a word is dropped, not when whitespace is merely normalised.
    func testPassageCutSaysWhetherWordsWereDropped() {
        XCTAssertTrue(firstWords(of: "  a\tb\n\nc  d ", limit: 3).cut)
        XCTAssertFalse(firstWords(of: "  a\tb\n\nc   ", limit: 3).cut)
        XCTAssertFalse(firstWords(of: "a b c", limit: 3).cut)
        XCTAssertFalse(firstWords(of: "   ", limit: 5).cut)
        XCTAssertTrue(firstWords(of: "x y", limit: 1).cut)
        XCTAssertFalse(PromptTemplate.monoT5.preparePassage("x y").cut)
        let thousandWords = (0..<1000).map { "w\($0)" }.joined(separator: " ")
        XCTAssertEqual(PromptTemplate.instructDistill.preparePassage(thousandWords).cut, true)
    }

    func testCustomTemplateFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("template-\(UUID()).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(#"{"name": "mine", "text": "Q: {query} D: {passage} R:", "max_passage_words": 50, "score": {"log_softmax": {"positive": "▁true", "negative": "▁false"}}}"#.utf8).write(to: url)
        let template = try PromptTemplate.load(from: url)
        XCTAssertEqual(template.name, "mine")
        XCTAssertEqual(template.maxPassageWords, 50)
        XCTAssertEqual(template.rule.pieces, ["▁false", "▁true"])

        try Data(#"{"name": "mine", "text": "Q: {query} D: {passage}", "score": {}}"#.utf8).write(to: url)
        XCTAssertThrowsError(try PromptTemplate.load(from: url)) {
            XCTAssertTrue("\($0)".contains("exactly one of \"logit\" or \"log_softmax\""), "\($0)")
        }
        try Data(#"{"name": 3}"#.utf8).write(to: url)
        XCTAssertThrowsError(try PromptTemplate.load(from: url)) {
            XCTAssertTrue("\($0)".contains(url.path), "\($0)")
        }
    }

    func testScoreRules() {
        let logit = ScoreRule.logit(piece: "▁Yes")
        XCTAssertEqual(logit.rawScore(logits: [2.5]), 2.5)
        XCTAssertEqual(logit.probability(rawScore: 0), 0.5)
        let pair = ScoreRule.logSoftmax(positive: "▁true", negative: "▁false")
        // log_softmax([1, 3])[1] = 3 - log(e^1 + e^3)
        XCTAssertEqual(pair.rawScore(logits: [1, 3]), Float(3 - log(exp(1.0) + exp(3.0))), accuracy: 1e-6)
        XCTAssertEqual(pair.probability(rawScore: pair.rawScore(logits: [0, 0])), 0.5, accuracy: 1e-6)
        // Large logits must not overflow.
        XCTAssertEqual(pair.rawScore(logits: [1000, 1000]), Float(-log(2.0)), accuracy: 1e-5)
    }
}
