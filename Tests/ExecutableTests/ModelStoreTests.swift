import Foundation
import ParityFixtures
import XCTest

/// `rerank-admin publish` / `rollback` into a model store and a `rerankd --model-store` that follows it.
final class ModelStoreTests: XCTestCase {
    var store: URL!

    override func setUpWithError() throws {
        store = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: store)
    }

    @discardableResult
    func admin(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let result = try Admin.run(arguments)
        return (result.status, result.stdout.trimmingCharacters(in: .whitespacesAndNewlines), result.stderr)
    }

    var randomModel: String { ParityFixtures.root.appendingPathComponent("Tests/Fixtures/ranking/random_v4").resolvingSymlinksInPath().path }
    var other: String { ParityFixtures.root.appendingPathComponent("Tests/Fixtures/ranking/random_v5_fresh").path }
    func current() throws -> String { try FileManager.default.destinationOfSymbolicLink(atPath: store.appendingPathComponent("current").path) }

    func testPublishIsContentAddressedValidatedAndRollsBack() throws {
        let first = try admin(["publish", randomModel, "--store", store.path])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertEqual(first.stdout.count, 16)
        XCTAssertEqual(try current(), "versions/\(first.stdout)")
        // The same files give the same version; another model another one.
        XCTAssertEqual(try admin(["publish", randomModel, "--store", store.path]).stdout, first.stdout)
        let second = try admin(["publish", other, "--store", store.path])
        XCTAssertNotEqual(second.stdout, first.stdout)
        XCTAssertEqual(try current(), "versions/\(second.stdout)")

        // A checkpoint that does not load is refused and never becomes current.
        let broken = store.deletingLastPathComponent().appendingPathComponent("broken-\(UUID().uuidString)")
        try FileManager.default.copyItem(atPath: randomModel, toPath: broken.path)
        defer { try? FileManager.default.removeItem(at: broken) }
        let weights = broken.appendingPathComponent("model.safetensors")
        try Data(contentsOf: weights).dropLast(4096).write(to: weights)
        let refused = try admin(["publish", broken.path, "--store", store.path])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("model.safetensors"), refused.stderr)
        XCTAssertEqual(try current(), "versions/\(second.stdout)")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: store.appendingPathComponent("versions").path).sorted(),
                       [first.stdout, second.stdout].sorted())

        let back = try admin(["rollback", "--store", store.path])
        XCTAssertEqual(back.stdout, first.stdout, back.stderr)
        XCTAssertEqual(try current(), "versions/\(first.stdout)")
        XCTAssertEqual(try admin(["rollback", "--store", store.path, "--to", second.stdout]).stdout, second.stdout)
        let unknown = try admin(["rollback", "--store", store.path, "--to", "0000"])
        XCTAssertTrue(unknown.stderr.contains("no version \"0000\""), unknown.stderr)
    }

    func testKeepsTheLastVersionsOnly() throws {
        var versions: [String] = []
        for source in [randomModel, other, ParityFixtures.root.appendingPathComponent("Tests/Fixtures/ranking/random_v5_resaved").path] {
            versions.append(try admin(["publish", source, "--store", store.path, "--keep", "2"]).stdout)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: store.appendingPathComponent("versions").path).sorted(),
                       Array(versions.suffix(2)).sorted())
    }

    /// The server follows the store: a publish is served without a restart, a version broken in the store
    /// is not served (and is named in /info), a rollback is followed again.
    func testRerankdFollowsTheStore() throws {
        XCTAssertEqual(try admin(["publish", randomModel, "--store", store.path]).status, 0)
        let server = try RerankdProcessTests.Server(arguments: ["--model-store", store.path, "--model-store-poll", "0.2"])
        XCTAssertGreaterThan(server.port, 0, server.output)
        let request = ["http://127.0.0.1:\(server.port)/rerank", "-H", "Content-Type: application/json",
                       "-d", #"{"query": "rainbows", "texts": ["light", "rain", "stocks"], "raw_scores": true}"#]
        let before = try RerankdProcessTests.curl(request)
        func info() throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: Data(try RerankdProcessTests.curl(["http://127.0.0.1:\(server.port)/info"]).utf8)) as! [String: Any]
        }
        func waitForDirectory(_ fragment: String) throws -> Bool {
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                if ((try info()["model"] as? [String: Any])?["directory"] as? String)?.contains(fragment) == true { return true }
                usleep(100_000)
            }
            return false
        }
        let second = try admin(["publish", other, "--store", store.path]).stdout
        XCTAssertTrue(try waitForDirectory(second), server.output)
        let after = try RerankdProcessTests.curl(request)
        XCTAssertNotEqual(after, before)

        // A version corrupted inside the store, flipped to by hand: refused, old model keeps serving.
        let bad = store.appendingPathComponent("versions/badbadbadbadbad0")
        try FileManager.default.copyItem(atPath: other, toPath: bad.path)
        try Data("{".utf8).write(to: bad.appendingPathComponent("config.json"))
        unlink(store.appendingPathComponent("current").path)
        symlink("versions/badbadbadbadbad0", store.appendingPathComponent("current").path)
        XCTAssertTrue(server.waitForLog("model reload failed"), server.output)
        XCTAssertEqual(try RerankdProcessTests.curl(request), after)
        let failure = try XCTUnwrap(try info()["last_reload_failure"] as? [String: Any])
        XCTAssertTrue((failure["directory"] as? String)?.hasSuffix("badbadbadbadbad0") == true, "\(failure)")
        let metrics = try RerankdProcessTests.curl(["http://127.0.0.1:\(server.port)/metrics"])
        XCTAssertTrue(metrics.contains(#"rerank_model_reloads_total{result="failed"} 1"#), metrics)

        XCTAssertEqual(try admin(["rollback", "--store", store.path, "--to", second]).status, 0)
        let first = try admin(["rollback", "--store", store.path]).stdout
        XCTAssertTrue(try waitForDirectory(first), server.output)
        XCTAssertEqual(try RerankdProcessTests.curl(request), before)
        XCTAssertNil(try info()["last_reload_failure"])
        kill(server.process.processIdentifier, SIGTERM)
        server.process.waitUntilExit()
    }

    /// `publish --notify` reloads a server that does not watch the store; a wrong token fails the publish loudly.
    func testPublishNotifiesAServerOutsideTheStore() throws {
        let server = try RerankdProcessTests.Server(arguments: ["--model", randomModel, "--admin-token", "secret"])
        XCTAssertGreaterThan(server.port, 0, server.output)
        let url = "http://127.0.0.1:\(server.port)"
        XCTAssertEqual(try admin(["publish", randomModel, "--store", store.path]).status, 0)
        let published = try admin(["publish", other, "--store", store.path, "--notify", url, "--admin-token", "secret"])
        XCTAssertEqual(published.status, 0, published.stderr)
        let info = try JSONSerialization.jsonObject(with: Data(try RerankdProcessTests.curl([url + "/info"]).utf8)) as! [String: Any]
        XCTAssertTrue(((info["model"] as? [String: Any])?["directory"] as? String)?.contains(published.stdout) == true, "\(info)")
        let wrong = try admin(["rollback", "--store", store.path, "--notify", url, "--admin-token", "wrong"])
        XCTAssertNotEqual(wrong.status, 0)
        XCTAssertTrue(wrong.stderr.contains("HTTP 401"), wrong.stderr)
        kill(server.process.processIdentifier, SIGTERM)
        server.process.waitUntilExit()
    }
}
