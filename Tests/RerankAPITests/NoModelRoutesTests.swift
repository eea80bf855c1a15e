import Foundation
import XCTest
@testable import RerankAPI

/// The routes of a server whose model store nothing was published to yet (rerankd exited on it): alive, not
/// ready, the rerank routes refused with 503 and Retry-After, /info saying so, the first model loadable.
final class NoModelRoutesTests: XCTestCase {
    let json = #"{"query": "q", "texts": ["a", "b"]}"#

    func testRoutesBeforeAndAfterTheFirstModel() throws {
        let message = "no model is published in the model store /models/store yet"
        let server = try LiveServer(model: nil, adminToken: "admin-token", noModelMessage: message)
        XCTAssertEqual(try server.request("GET", "/health").status, 200)
        let ready = try server.request("GET", "/ready")
        XCTAssertEqual(ready.status, 503, ready.text)
        XCTAssertEqual((ready.json as? [String: Any])?["error"] as? String, message)
        for (route, body) in [("/rerank", json), ("/v1/rerank", #"{"query": "q", "documents": ["a"]}"#),
                              ("/v2/rerank", #"{"query": "q", "documents": ["a"]}"#)] {
            let refused = try server.post(route, json: body)
            XCTAssertEqual(refused.status, 503, "\(route): \(refused.text)")
            XCTAssertEqual(refused.headers["retry-after"], "1", route)
            XCTAssertEqual((refused.json as? [String: Any])?["error_type"] as? String, "Unhealthy", route)
            XCTAssertEqual((refused.json as? [String: Any])?["error"] as? String, message, route)
        }
        let info = try XCTUnwrap(try server.request("GET", "/info").json as? [String: Any])
        XCTAssertTrue(info["model"] is NSNull, "\(info)")
        XCTAssertEqual(info["state"] as? String, "no_model")
        XCTAssertTrue(info["capture"] is NSNull, "\(info)")
        XCTAssertEqual((info["template"] as? [String: Any])?["name"] as? String, "instructdistill")
        XCTAssertNotNil(info["limits"])

        // Nothing to reload by itself; a given directory loads and serves.
        let admin = ["Authorization": "Bearer admin-token"]
        let nothing = try server.request("POST", "/admin/reload", headers: admin)
        XCTAssertEqual(nothing.status, 422, nothing.text)
        XCTAssertTrue(nothing.text.contains("nothing to reload"), nothing.text)
        let loaded = try server.post("/admin/reload", json: #"{"model": "\#(LiveServer.randomModel)"}"#, headers: admin)
        XCTAssertEqual(loaded.status, 200, loaded.text)
        XCTAssertEqual((loaded.json as? [String: Any])?["state"] as? String, "serving")
        XCTAssertEqual(try server.request("GET", "/ready").status, 200)
        XCTAssertEqual(try server.post("/rerank", json: json).status, 200)
        let served = try XCTUnwrap(try server.post("/v1/rerank", json: #"{"query": "q", "documents": ["a"]}"#).json
            as? [String: Any])
        XCTAssertEqual(served["model"] as? String, "random_v4")
    }
}
