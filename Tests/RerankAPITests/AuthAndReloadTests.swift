import Foundation
import XCTest
@testable import RerankAPI

final class AuthAndReloadTests: XCTestCase {
    static let server = Result { try LiveServer(apiKey: "secret-key", adminToken: "admin-token") }
    var server: LiveServer { get throws { try Self.server.get() } }
    let json = #"{"query": "q", "texts": ["a", "b"]}"#

    func testRerankRoutesNeedTheAPIKey() throws {
        XCTAssertEqual(try server.post("/rerank", json: json).status, 401)
        XCTAssertEqual(try server.post("/rerank", json: json, headers: ["Authorization": "Bearer wrong"]).status, 401)
        XCTAssertEqual(try server.post("/rerank", json: json, headers: ["Authorization": "Bearer secret-key"]).status, 200)
        XCTAssertEqual(try server.post("/v2/rerank", json: #"{"query": "q", "documents": ["a"]}"#,
                                       headers: ["Authorization": "bearer secret-key"]).status, 200)
        // Health, readiness and metrics stay open.
        for path in ["/health", "/ready", "/metrics"] {
            XCTAssertEqual(try server.request("GET", path).status, 200, path)
        }
    }

    func testReloadNeedsTheAdminTokenAndReportsTheWeights() throws {
        XCTAssertEqual(try server.request("POST", "/admin/reload").status, 401)
        XCTAssertEqual(try server.request("POST", "/admin/reload", headers: ["Authorization": "Bearer secret-key"]).status, 401)
        let reloaded = try server.request("POST", "/admin/reload", headers: ["Authorization": "Bearer admin-token"])
        XCTAssertEqual(reloaded.status, 200, reloaded.text)
        let model = try XCTUnwrap((reloaded.json as? [String: Any])?["model"] as? [String: Any])
        XCTAssertEqual(model["weights_sha256"] as? String, try sha256sum(LiveServer.randomModel + "/model.safetensors"))
    }

    func testBadCheckpointIsRejectedAndTheOldModelKeepsServing() throws {
        let before = try server.service.model
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("empty-model-\(UUID())")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        let reply = try server.post("/admin/reload", json: #"{"model": "\#(empty.path)"}"#,
                                    headers: ["Authorization": "Bearer admin-token"])
        XCTAssertEqual(reply.status, 422, reply.text)
        XCTAssertTrue(reply.text.contains(empty.path), reply.text)
        XCTAssertTrue(try server.service.model === before)
        XCTAssertEqual(try server.post("/rerank", json: json, headers: ["Authorization": "Bearer secret-key"]).status, 200)
    }

    /// A FIFO in place of a checkpoint file used to hang the reload worker in open() forever: the POST never
    /// answered and every later reload queued behind it.
    func testAFIFOInTheCheckpointIsRefusedAndLaterReloadsStillRun() throws {
        let before = try server.service.model
        for name in ["model.safetensors", "config.json", "spiece.model"] {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fifo-model-\(UUID())")
            try FileManager.default.copyItem(at: URL(fileURLWithPath: LiveServer.randomModel), to: directory)
            defer { try? FileManager.default.removeItem(at: directory) }
            let fifo = directory.appendingPathComponent(name).path
            try FileManager.default.removeItem(atPath: fifo)
            XCTAssertEqual(mkfifo(fifo, 0o644), 0)
            let reply = try server.post("/admin/reload", json: #"{"model": "\#(directory.path)"}"#,
                                        headers: ["Authorization": "Bearer admin-token"])
            XCTAssertEqual(reply.status, 422, reply.text)
            XCTAssertTrue(reply.text.contains(fifo) && reply.text.contains("FIFO"), reply.text)
            let info = try XCTUnwrap(try server.request("GET", "/info").json as? [String: Any])
            XCTAssertTrue("\(info["last_reload_failure"] ?? "")".contains(fifo), "\(info)")
            XCTAssertTrue(try server.service.model === before)
        }
        let reloaded = try server.request("POST", "/admin/reload", headers: ["Authorization": "Bearer admin-token"])
        XCTAssertEqual(reloaded.status, 200, reloaded.text)
    }

    func sha256sum(_ path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .split(separator: " ").first.map(String.init) ?? ""
    }
}
