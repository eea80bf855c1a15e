import XCTest
@testable import SentencePiece

final class TokenizerErrorTests: XCTestCase {
    func testMessagesNameTheFile() {
        let error = TokenizerError.malformed(path: "/m/spiece.model", reason: "truncated varint")
        XCTAssertEqual(error.description, "malformed tokenizer file /m/spiece.model: truncated varint")
    }
}
