import Foundation
import XCTest
@testable import T5

/// What a written checkpoint's config.json says about its dtype, everything else left as it was.
final class CheckpointWriterTests: XCTestCase {
    func testOnlyTheDtypeValuesChange() {
        let v4 = "{\n  \"d_model\": 128,\n  \"initializer_factor\": 1.0,\n  \"torch_dtype\": \"bfloat16\"\n}\n"
        XCTAssertEqual(T5TrainingModel.namingFloat32(v4),
                       "{\n  \"d_model\": 128,\n  \"initializer_factor\": 1.0,\n  \"torch_dtype\": \"float32\"\n}\n")
        let v5 = "{\"dtype\" : \"bfloat16\", \"layer_norm_epsilon\": 1e-06}"
        XCTAssertEqual(T5TrainingModel.namingFloat32(v5), "{\"dtype\": \"float32\", \"layer_norm_epsilon\": 1e-06}")
        XCTAssertEqual(T5TrainingModel.namingFloat32("{\"torch_dtype\": null}"), "{\"torch_dtype\": \"float32\"}")
        let none = T5TrainingModel.namingFloat32("{\"d_model\": 8}")
        XCTAssertEqual(none, "{\n  \"torch_dtype\": \"float32\",\"d_model\": 8}")
        XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(none.utf8)))
    }
}
