import XCTest
@testable import RerankAPI
@testable import RerankService

final class RankedResultsTests: XCTestCase {
    func testSortedByScoreTiesByInputOrderCutToTopN() {
        let scores: [Float] = [0.2, 0.9, 0.2, 0.5, 0.9]
        XCTAssertEqual(rankedIndices(scores, topN: nil), [1, 4, 3, 0, 2])
        XCTAssertEqual(rankedIndices(scores, topN: 2), [1, 4])
        XCTAssertEqual(rankedIndices(scores, topN: 10), [1, 4, 3, 0, 2])
    }

    func testServiceErrorsMapToTEIStatuses() {
        XCTAssertEqual(APIError(RerankError.empty("query must not be empty")).status, 400)
        XCTAssertEqual(APIError(RerankError.validation("too many")).status, 422)
        let overloaded = APIError(RerankError.overloaded(retryAfterSeconds: 3))
        XCTAssertEqual(overloaded.status, 429)
        XCTAssertEqual(overloaded.retryAfter, 3)
        XCTAssertEqual(APIError(RerankError.unavailable("draining")).status, 503)
    }

    func testJSONStringEscapes() {
        XCTAssertEqual(jsonString("a\"b\\c\n\u{01}é"), #""a\"b\\c\n\u0001é""#)
    }
}
