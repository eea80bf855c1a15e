import XCTest
@testable import HTTPServer

final class HTTPStatusTests: XCTestCase {
    func testReasonPhrases() {
        XCTAssertEqual(HTTPStatus.reason(431), "Request Header Fields Too Large")
        XCTAssertEqual(HTTPStatus.reason(299), "Status 299")
    }
}
