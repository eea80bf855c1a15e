import XCTest
@testable import T5

final class CPUBudgetTests: XCTestCase {
    func testCgroupQuotaLines() {
        XCTAssertEqual(CPUBudget.cgroupQuota("200000 100000\n"), 2)
        XCTAssertEqual(CPUBudget.cgroupQuota("150000 100000"), 1.5)
        XCTAssertNil(CPUBudget.cgroupQuota("max 100000\n"))
        XCTAssertNil(CPUBudget.cgroupQuota(nil))
        XCTAssertNil(CPUBudget.cgroupQuota("garbage"))
        XCTAssertGreaterThanOrEqual(CPUBudget.cores, 1)
        XCTAssertLessThanOrEqual(CPUBudget.cores, ProcessInfo.processInfo.activeProcessorCount)
    }
}
