import XCTest
@testable import RerankAPI

final class AccessLogLimiterTests: XCTestCase {
    func testAtMostNLinesASecondThenASummary() {
        let limiter = AccessLogLimiter(perSecond: 3)
        let second: UInt64 = 1_000_000_000
        let first = (0..<10).map { limiter.admit(now: 5 * second + UInt64($0)) }
        XCTAssertEqual(first.map(\.write), [true, true, true] + Array(repeating: false, count: 7))
        XCTAssertTrue(first.allSatisfy { $0.suppressedBefore == 0 })
        let next = limiter.admit(now: 6 * second + 1)
        XCTAssertTrue(next.write)
        XCTAssertEqual(next.suppressedBefore, 7)
        XCTAssertEqual(limiter.admit(now: 6 * second + 2).suppressedBefore, 0)
    }
}
