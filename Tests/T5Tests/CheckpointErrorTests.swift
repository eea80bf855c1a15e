import XCTest
@testable import T5

final class CheckpointErrorTests: XCTestCase {
    func testMessagesNameFileAndTensor() {
        let error = CheckpointError.wrongShape(path: "m/model.safetensors", tensor: "shared.weight", expected: [10, 4], found: [10, 5])
        XCTAssertEqual(error.description, "m/model.safetensors: tensor 'shared.weight' has shape [10, 5], expected [10, 4]")
    }
}
