import Foundation
import ParityFixtures
import SentencePiece
import T5
import XCTest
@testable import Ranking

/// The pairwise teacher (PRP) on the core against transformers 5 (Tests/Fixtures/teacher).
final class PairwiseTeacherTests: XCTestCase {
    override class func setUp() {
        super.setUp()
        CPUBudget.configureBLAS(threads: 1)
    }

    static let scorer = Result { try PairwiseScorer(directory: TeacherExample.model) }

    typealias Judge = ([OrderedPair]) throws -> [PairPreference]

    func judged(_ example: TeacherExample, _ input: TeacherExample.Input) throws -> Judge {
        let scorer = try Self.scorer.get()
        let passages = input.documents.map(PairwisePrompt.cut)
        return { try scorer.judge(query: input.query, passages: passages, pairs: $0) }
    }

    func testPromptIdsAndAnswerLogitsMatchTransformers() throws {
        let scorer = try Self.scorer.get()
        XCTAssertEqual([scorer.prompt.prefixID, scorer.prompt.aID, scorer.prompt.bID], [34, 37, 119])
        for (example, input) in zip(try TeacherExample.all(), try TeacherExample.inputs()) {
            let passages = input.documents.map(PairwisePrompt.cut)
            let ids = try example.pairs.map { try scorer.prompt.encode(query: input.query, a: passages[$0[0]], b: passages[$0[1]]) }
            XCTAssertEqual(ids, example.ids, example.qid)
            let logits = try scorer.answerLogits(ids)
            XCTAssertEqual(ScoreComparison.mismatches(logits.map { Double($0.a) }, example.logits.map { $0[0] }), [], example.qid)
            XCTAssertEqual(ScoreComparison.mismatches(logits.map { Double($0.b) }, example.logits.map { $0[1] }), [], example.qid)
        }
    }

    func testAllPairsAndSlidingVerdictsMatchTheReference() throws {
        for (example, input) in zip(try TeacherExample.all(), try TeacherExample.inputs()) {
            let judge = try judged(example, input)
            let n = input.documents.count
            let all = try PairwiseOutcome.rank(count: n, method: .allPairs, judge: judge)
            XCTAssertEqual(all.prompts, n * (n - 1))
            XCTAssertEqual(all.wins, example.wins, example.qid)
            XCTAssertEqual(all.ranking.map { example.docids[$0] }, example.ranking, example.qid)
            for (passes, expected) in [(1, example.sliding1), (2, example.sliding2)] {
                let sliding = try PairwiseOutcome.rank(count: n, method: .sliding(passes: passes), judge: judge)
                XCTAssertEqual(sliding.wins, expected.wins, "\(example.qid), \(passes) passes")
                XCTAssertEqual(sliding.ranking.map { example.docids[$0] }, expected.ranking, "\(example.qid), \(passes) passes")
                XCTAssertLessThanOrEqual(sliding.prompts, 2 * passes * (n - 1))
            }
        }
    }

    /// The fixture can fail: a teacher that always names passage A, or one that sees the passages in
    /// another order, gets other wins on every query.
    func testAConstantOrPermutedTeacherFailsTheFixture() throws {
        let scorer = try Self.scorer.get()
        for (example, input) in zip(try TeacherExample.all(), try TeacherExample.inputs()) {
            let n = input.documents.count
            let constant = try PairwiseOutcome.rank(count: n, method: .allPairs) { Array(repeating: .a, count: $0.count) }
            XCTAssertNotEqual(constant.wins, example.wins, example.qid)
            let rotated = (input.documents.dropFirst() + input.documents.prefix(1)).map(PairwisePrompt.cut)
            let permuted = try PairwiseOutcome.rank(count: n, method: .allPairs) {
                try scorer.judge(query: input.query, passages: rotated, pairs: $0)
            }
            XCTAssertNotEqual(permuted.wins, example.wins, example.qid)
        }
    }

    func testExactTiesGiveHalfAWinEachAndTheFirstStageOrderBreaksEqualCounts() throws {
        let ties = try PairwiseOutcome.rank(count: 4, method: .allPairs) { Array(repeating: .tie, count: $0.count) }
        XCTAssertEqual(ties.wins, [3, 3, 3, 3])
        XCTAssertEqual(ties.ranking, [0, 1, 2, 3])
        // 2 beats everyone in both orders; 0 and 1 tie with each other (half a win each way); 3 always loses.
        let mixed = try PairwiseOutcome.rank(count: 4, method: .allPairs) { pairs in
            pairs.map { pair in
                if Set([pair.first, pair.second]) == [0, 1] { return .tie }
                let better = [2, 0, 1, 3].firstIndex(of: pair.first)! < [2, 0, 1, 3].firstIndex(of: pair.second)!
                return better ? .a : .b
            }
        }
        XCTAssertEqual(mixed.wins, [3, 3, 6, 0])
        XCTAssertEqual(mixed.ranking, [2, 0, 1, 3])
        XCTAssertEqual(PairPreference(a: -.infinity, b: -.infinity), .tie)
        XCTAssertEqual(PairPreference(a: -1, b: -.infinity), .a)
    }

    func testSlidingSwapsOnlyWhenBothOrdersAgree() throws {
        // Wherever candidate 2 is involved the teacher just names passage A: the orders disagree, no swap.
        // Between 0 and 1 it names B both times: again no agreement.
        let biased = try PairwiseOutcome.rank(count: 3, method: .sliding(passes: 2)) { pairs in
            pairs.map { $0.first == 2 || $0.second == 2 ? .a : .b }
        }
        XCTAssertEqual(biased.ranking, [0, 1, 2])
        let consistent = try PairwiseOutcome.rank(count: 3, method: .sliding(passes: 1)) { pairs in
            pairs.map { $0.first > $0.second ? .a : .b }
        }
        XCTAssertEqual(consistent.ranking, [2, 0, 1])
        XCTAssertEqual(consistent.prompts, 4)
    }

    func testPromptsThatDoNotFitAreCutInBothPassagesWithinTheBudget() throws {
        let scorer = try Self.scorer.get()
        let prompt = try PairwisePrompt(tokenizer: scorer.prompt.tokenizer, maxInputTokens: 160)
        let long = String(repeating: "Tokenization of unusual words like 東京 and antidisestablishment ", count: 20)
        let a = PairwisePrompt.cut(long), b = PairwisePrompt.cut("short one " + long)
        let ids = try prompt.encode(query: "what fits", a: a, b: b)
        XCTAssertLessThanOrEqual(ids.count, 160)
        XCTAssertGreaterThan(ids.count, 150)
        let text = scorer.prompt.tokenizer.decodeForTest(ids)
        XCTAssertTrue(text.contains("passage A: Tokenization"), text)
        XCTAssertTrue(text.contains("passage B: short one"), text)
        XCTAssertTrue(text.hasSuffix("passage A or passage B. Answer:"), text)
        // A short passage keeps all of itself; the other takes the rest.
        let shortFirst = try prompt.encode(query: "what fits", a: "tiny", b: b)
        XCTAssertTrue(scorer.prompt.tokenizer.decodeForTest(shortFirst).contains("passage A: tiny"))
        XCTAssertGreaterThan(shortFirst.count, 150)
        XCTAssertThrowsError(try prompt.encode(query: String(repeating: "query words ", count: 100), a: "x", b: "y")) {
            guard case PromptEncodingError.queryTooLong = $0 else { return XCTFail("\($0)") }
        }
        // A 1 MB word without spaces is cut without tokenizing all of it.
        let huge = String(repeating: "x", count: 1 << 20)
        XCTAssertLessThanOrEqual(try prompt.encode(query: "q", a: huge, b: huge).count, 160)
    }
}

extension SentencePieceTokenizer {
    /// The pieces of `ids` joined, with ▁ as a space and eos dropped: enough to see where a cut fell.
    func decodeForTest(_ ids: [Int32]) -> String {
        ids.filter { $0 != eosID }.compactMap { piece(ofID: $0) }.joined()
            .replacingOccurrences(of: "▁", with: " ").trimmingCharacters(in: .whitespaces)
    }
}
