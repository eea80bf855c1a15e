import XCTest
@testable import T5

final class PackingTests: XCTestCase {
    func testGroupsBalanceTokensAndCoverEveryIndexOnce() {
        let lengths = [300, 10, 200, 100, 90, 5]
        let groups = balancedGroups(lengths: lengths, count: 2)
        XCTAssertEqual(groups.flatMap { $0 }.sorted(), Array(lengths.indices))
        // Longest first, each to the lightest group (ties to the first): 300 | 200, 100, then 90 -> first,
        // 10 and 5 -> second.
        XCTAssertEqual(groups, [[0, 4], [2, 3, 1, 5]])
    }

    func testFewerSequencesThanCores() {
        XCTAssertEqual(balancedGroups(lengths: [7], count: 4), [[0]])
        XCTAssertEqual(balancedGroups(lengths: [], count: 4), [])
    }

    func testChunksRespectTheRowLimitAndKeepOrder() {
        let lengths = [10, 20, 15, 50, 5]
        XCTAssertEqual(chunked([0, 1, 2, 3, 4], lengths: lengths, maxPackRows: 30), [[0, 1], [2], [3], [4]])
        XCTAssertEqual(chunked([4, 0], lengths: lengths, maxPackRows: 100), [[4, 0]])
    }
}
