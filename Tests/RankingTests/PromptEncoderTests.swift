import Foundation
import SentencePiece
import XCTest
@testable import Ranking

/// Truncation keeps the query and the template's tail and cuts only the document, as little as possible.
final class PromptEncoderTests: XCTestCase {
    static let tokenizer = Result {
        try SentencePieceTokenizer(directory: PointwiseScorerTests.randomModel)
    }

    func encoder(limit: Int, template: PromptTemplate = .monoT5) throws -> PromptEncoder {
        PromptEncoder(tokenizer: try Self.tokenizer.get(), template: template, maxInputTokens: limit)
    }

    func testShortPromptIsTheTokenizedRender() throws {
        let encoder = try encoder(limit: 512)
        let prompt = try encoder.encode(query: "rainbow", passage: "light in water")
        XCTAssertEqual(prompt.ids, encoder.tokenizer.encode("Query: rainbow Document: light in water Relevant:"))
        XCTAssertFalse(prompt.truncated)
    }

    func testLongDocumentIsCutToTheLongestFittingPrefix() throws {
        let tokenizer = try Self.tokenizer.get()
        let passage = (0..<300).map { "word\($0)" }.joined(separator: " ")
        for limit in [40, 64, 100] {
            let prompt = try encoder(limit: limit).encode(query: "what words", passage: passage)
            XCTAssertTrue(prompt.truncated)
            XCTAssertLessThanOrEqual(prompt.ids.count, limit)
            let tail = tokenizer.encode(" Relevant:", appendEOS: true).suffix(3)
            XCTAssertEqual(Array(prompt.ids.suffix(3)), Array(tail))
            XCTAssertEqual(Array(prompt.ids.prefix(3)), Array(tokenizer.encode("Query: what words").prefix(3)))
            // One more character of the document would not fit.
            let kept = (0...passage.count).first { count in
                tokenizer.encode(PromptTemplate.monoT5.render(
                    query: "what words", passage: String(passage.prefix(count)))).count > limit
            }! - 1
            XCTAssertEqual(prompt.ids, tokenizer.encode(PromptTemplate.monoT5.render(
                query: "what words", passage: String(passage.prefix(kept)))))
        }
    }

    /// Long documents are probed by growing prefixes; the answer must be the one a whole-text search gives.
    func testLongDocumentsGiveTheWholeTextAnswer() throws {
        let encoder = try encoder(limit: 64)
        let tokenizer = try Self.tokenizer.get()
        // A flood of whitespace that normalises away: the whole passage fits, nothing is cut.
        let spaced = "alpha" + String(repeating: " ", count: 100_000) + "beta gamma"
        let prompt = try encoder.encode(query: "q", passage: spaced)
        XCTAssertEqual(prompt.ids, tokenizer.encode(PromptTemplate.monoT5.render(query: "q", passage: spaced)))
        XCTAssertFalse(prompt.truncated)
        // A megabyte in one word: cut inside it, to the longest prefix that fits.
        let word = String(repeating: "xy", count: 500_000)
        let cut = try encoder.encode(query: "q", passage: word)
        XCTAssertEqual(cut.cutBy, [.inputTokens])
        let kept = (1...2000).first { tokenizer.encode(PromptTemplate.monoT5.render(
            query: "q", passage: String(word.prefix($0)))).count > 64 }! - 1
        XCTAssertEqual(cut.ids, tokenizer.encode(PromptTemplate.monoT5.render(query: "q", passage: String(word.prefix(kept)))))
        XCTAssertThrowsError(try encoder.encode(query: "q", passage: word, truncate: false)) {
            guard case PromptEncodingError.passageTooLong(let tokens, 64) = $0 else { return XCTFail("\($0)") }
            XCTAssertGreaterThan(tokens, 64)
        }
    }

    func testOneHugeWordIsCutInsideTheWord() throws {
        let prompt = try encoder(limit: 48).encode(query: "q", passage: String(repeating: "abcdefgh", count: 200))
        XCTAssertTrue(prompt.truncated)
        XCTAssertLessThanOrEqual(prompt.ids.count, 48)
        XCTAssertGreaterThan(prompt.ids.count, 40)
    }

    /// Every limit that cut a passage is named, and `truncate: false` refuses a cut by either limit.
    func testEveryCutIsReportedWithItsLimit() throws {
        let short = (0..<20).map { "word\($0)" }.joined(separator: " ")
        let manyWords = String(repeating: "a b ", count: 125)  // 250 one-token words
        let instruct = try encoder(limit: 512, template: .instructDistill)
        XCTAssertEqual(try instruct.encode(query: "q", passage: short).cutBy, [])
        XCTAssertEqual(try instruct.encode(query: "q", passage: manyWords).cutBy, [.passageWords])
        XCTAssertEqual(try encoder(limit: 100, template: .instructDistill).encode(query: "q", passage: manyWords).cutBy,
                       [.passageWords, .inputTokens])
        XCTAssertEqual(try encoder(limit: 100).encode(query: "q", passage: manyWords).cutBy, [.inputTokens])
        XCTAssertEqual(try instruct.encode(query: "q", passage: short, maxPassageTokens: 5).cutBy, [.tokensPerDocument])
        XCTAssertThrowsError(try instruct.encode(query: "q", passage: manyWords, truncate: false)) {
            XCTAssertEqual($0 as? PromptEncodingError, .passageOverWordLimit(limit: 200, template: "instructdistill"))
            XCTAssertEqual("\($0)", "it has more than 200 words, the most template 'instructdistill' keeps "
                           + "(max_passage_words), and truncation is off")
        }
        XCTAssertNoThrow(try instruct.encode(query: "q", passage: short, truncate: false))
    }

    /// max_tokens_per_doc binds a passage shorter than the first prefix probed (4 characters a token) too.
    func testAShortPassageOverItsTokenCapIsCut() throws {
        let instruct = try encoder(limit: 512, template: .instructDistill)
        let passage = "word1 word2 word3 word4 word5 word6"
        let whole = try instruct.encode(query: "q", passage: passage)
        let capped = try instruct.encode(query: "q", passage: passage, maxPassageTokens: 5)
        XCTAssertEqual(capped.cutBy, [.tokensPerDocument])
        XCTAssertLessThan(capped.ids.count, whole.ids.count)
        XCTAssertEqual(try instruct.encode(query: "q", passage: passage, maxPassageTokens: 500).cutBy, [])
    }

    /// A cap near Int.max (a client's number) cuts nothing and never traps in the probe arithmetic.
    func testAnAbsurdTokenCapCutsNothing() throws {
        let instruct = try encoder(limit: 512, template: .instructDistill)
        let passage = String(repeating: "word ", count: 50)
        for cap in [Int.max, Int.max / 2, 4_611_686_018_427_387_904] {
            XCTAssertEqual(try instruct.encode(query: "q", passage: passage, maxPassageTokens: cap).cutBy, [])
        }
    }

    func testNoTruncationAndOverlongQueryAreErrors() throws {
        let passage = String(repeating: "many words here ", count: 100)
        XCTAssertThrowsError(try encoder(limit: 64).encode(query: "q", passage: passage, truncate: false)) {
            guard case PromptEncodingError.passageTooLong(_, 64) = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try encoder(limit: 16).encode(query: passage, passage: "p")) {
            guard case PromptEncodingError.queryTooLong(_, 16) = $0 else { return XCTFail("\($0)") }
        }
    }
}
