import XCTest
@testable import Ranking

final class PromptTemplateTests: XCTestCase {
    func testRuleEquality() {
        XCTAssertNotEqual(ScoreRule.logit(piece: "▁Yes"), ScoreRule.logit(piece: "▁No"))
    }
}
