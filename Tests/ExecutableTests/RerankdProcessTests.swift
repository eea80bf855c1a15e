import Foundation
import XCTest

/// The real `rerankd` binary: flags and RERANK_* variables, the ready line, h2c with curl,
/// SIGHUP reload and a clean exit on SIGTERM.
final class RerankdProcessTests: XCTestCase {
    static let binary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug/rerankd")

    /// Unchecked Sendable: the log text is guarded by `lock`; the rest is set up before the handler runs.
    final class Server: @unchecked Sendable {
        let process = Process()
        let log = Pipe()
        private var text = ""
        private let lock = NSLock()
        var port = 0

        init(arguments: [String], environment: [String: String] = [:]) throws {
            process.executableURL = RerankdProcessTests.binary
            process.arguments = ["--host", "127.0.0.1", "--port", "0"] + arguments
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            process.standardError = log
            process.standardOutput = log
            log.fileHandleForReading.readabilityHandler = { [weak self] handle in
                let chunk = String(decoding: handle.availableData, as: UTF8.self)
                self?.lock.lock(); self?.text += chunk; self?.lock.unlock()
            }
            try process.run()
            let deadline = Date().addingTimeInterval(60)
            while port == 0, Date() < deadline, process.isRunning {
                if let range = output.range(of: #"ready on http://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                    port = Int(output[range].split(separator: ":").last!)!
                } else {
                    usleep(50_000)
                }
            }
        }

        var output: String { lock.lock(); defer { lock.unlock() }; return text }

        func waitForLog(_ fragment: String, seconds: Double = 30) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline { if output.contains(fragment) { return true }; usleep(50_000) }
            return false
        }

        deinit { if process.isRunning { process.terminate() } }
    }

    func curl(_ arguments: [String]) throws -> String { try Self.curl(arguments) }

    static func curl(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-s", "-S", "--max-time", "60"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    func testServesOverH2CAndHonoursEnvironmentAndSignals() throws {
        let server = try Server(arguments: ["--template", "monot5"], environment: ["RERANK_MAX_DOCUMENTS": "2"])
        XCTAssertGreaterThan(server.port, 0, server.output)
        XCTAssertTrue(server.output.contains("max_documents=2"), server.output)
        let url = "http://127.0.0.1:\(server.port)"
        let ok = try curl(["--http2-prior-knowledge", "-w", " %{http_version} %{http_code}", "\(url)/rerank",
                           "-H", "Content-Type: application/json",
                           "-d", #"{"query": "rainbows", "texts": ["light", "rain"]}"#])
        XCTAssertTrue(ok.hasSuffix(" 2 200"), ok)
        let tooMany = try curl(["-w", " %{http_code}", "\(url)/rerank", "-H", "Content-Type: application/json",
                                "-d", #"{"query": "q", "texts": ["a", "b", "c"]}"#])
        XCTAssertTrue(tooMany.hasSuffix(" 422") && tooMany.contains("over the limit of 2"), tooMany)
        let info = try curl(["\(url)/info"])
        XCTAssertTrue(info.contains(#""name":"monot5""#), info)

        kill(server.process.processIdentifier, SIGHUP)
        XCTAssertTrue(server.waitForLog("model swapped in"), server.output)

        kill(server.process.processIdentifier, SIGTERM)
        server.process.waitUntilExit()
        XCTAssertEqual(server.process.terminationStatus, 0, server.output)
        XCTAssertTrue(server.output.contains("stopped"), server.output)
    }

    /// RERANK_PRECISION=int8 serves through the int8 path: the same order, slightly different scores.
    func testInt8PrecisionServesTheSameOrder() throws {
        let body = #"{"query": "how do rainbows form", "texts": ["Stocks rose.", "Sunlight refracts in droplets."], "raw_scores": true}"#
        var answers: [String] = []
        for precision in ["fp32", "int8"] {
            let server = try Server(arguments: [], environment: ["RERANK_PRECISION": precision])
            XCTAssertTrue(server.output.contains("precision=\(precision)"), server.output)
            answers.append(try curl(["http://127.0.0.1:\(server.port)/rerank", "-H", "Content-Type: application/json", "-d", body]))
            let info = try curl(["http://127.0.0.1:\(server.port)/info"])
            let model = try XCTUnwrap((JSONSerialization.jsonObject(with: Data(info.utf8)) as? [String: Any])?["model"] as? [String: Any])
            XCTAssertEqual(model["precision"] as? String, precision)
            if precision == "int8" { XCTAssertTrue([127, 63].contains(model["int8_weight_levels"] as? Int), info) }
        }
        let ranked = try answers.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [[String: Any]], $0) }
        XCTAssertEqual(ranked.map { $0.map { $0["index"] as? Int } }, [[1, 0], [1, 0]], "\(answers)")
        XCTAssertNotEqual(answers[0], answers[1], "int8 scores should differ slightly from fp32")
        let bad = try Server(arguments: ["--precision", "int4"])
        bad.process.waitUntilExit()
        XCTAssertNotEqual(bad.process.terminationStatus, 0)
    }

    func testFlagsWinOverEnvironmentAndBadValuesAreRefused() throws {
        let server = try Server(arguments: ["--max-documents", "5"], environment: ["RERANK_MAX_DOCUMENTS": "2"])
        XCTAssertTrue(server.output.contains("max_documents=5"), server.output)
        kill(server.process.processIdentifier, SIGTERM)
        server.process.waitUntilExit()

        let bad = try Server(arguments: ["--max-batch-tokens", "0"])
        bad.process.waitUntilExit()
        XCTAssertNotEqual(bad.process.terminationStatus, 0)
        XCTAssertTrue(bad.output.contains("--max-batch-tokens must be at least 1"), bad.output)

        let missing = try Server(arguments: ["--model", "/nonexistent/checkpoint"])
        missing.process.waitUntilExit()
        XCTAssertNotEqual(missing.process.terminationStatus, 0)
        XCTAssertTrue(missing.output.contains("/nonexistent/checkpoint"), missing.output)
    }

    /// A copy of the random test checkpoint's files in a temporary directory.
    func randomModelCopy() throws -> URL {
        let source = Self.binary.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Tests/Fixtures/ranking/random_v4").resolvingSymlinksInPath()
        let target = FileManager.default.temporaryDirectory.appendingPathComponent("sighup-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: target.appendingPathComponent(name))
        }
        addTeardownBlock { try? FileManager.default.removeItem(at: target) }
        return target
    }

    func setConfig(_ directory: URL, _ key: String, _ value: Int) throws {
        let url = directory.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        config[key] = value
        try JSONSerialization.data(withJSONObject: config).write(to: url)
    }

    /// SIGHUP reloads --model in place; a checkpoint broken since start is refused, logged with the file and
    /// field, and the running model keeps answering with the same scores.
    func testSIGHUPWithABrokenCheckpointKeepsServing() throws {
        let directory = try randomModelCopy()
        let server = try Server(arguments: ["--model", directory.path])
        XCTAssertGreaterThan(server.port, 0, server.output)
        let request = ["http://127.0.0.1:\(server.port)/rerank", "-H", "Content-Type: application/json",
                       "-d", #"{"query": "rainbows", "texts": ["light", "rain", "stocks"], "raw_scores": true}"#]
        let scores = try curl(request)
        XCTAssertTrue(scores.hasPrefix("[{"), scores)
        let breakages: [(String, () throws -> Void)] = [
            ("d_model 100000000", { try self.setConfig(directory, "d_model", 100_000_000) }),
            ("num_heads must be positive", {
                try self.setConfig(directory, "d_model", 128)
                try self.setConfig(directory, "num_heads", 0)
            }),
            ("truncated", {
                try self.setConfig(directory, "num_heads", 4)
                let weights = directory.appendingPathComponent("model.safetensors")
                try Data(contentsOf: weights).dropLast(4096).write(to: weights)
            }),
        ]
        for (index, (mention, breakCheckpoint)) in breakages.enumerated() {
            try breakCheckpoint()
            kill(server.process.processIdentifier, SIGHUP)
            let failures = { server.output.components(separatedBy: "model reload failed").count - 1 }
            let deadline = Date().addingTimeInterval(30)
            while failures() <= index, Date() < deadline { usleep(50_000) }
            XCTAssertEqual(failures(), index + 1, server.output)
            XCTAssertTrue(server.output.contains(mention), "\(mention): \(server.output)")
            XCTAssertTrue(server.process.isRunning)
            XCTAssertEqual(try curl(request), scores, mention)
        }
        kill(server.process.processIdentifier, SIGTERM)
        server.process.waitUntilExit()
        XCTAssertEqual(server.process.terminationStatus, 0, server.output)
    }

    /// A store version holding a FIFO used to wedge a --model-store server: its reload blocked in open() and
    /// every later flip, SIGHUP and reload queued behind it. It must fail fast, and the follower keep following.
    func testAStoreVersionWithAFIFOFailsAndTheFollowerKeepsFollowing() throws {
        let store = FileManager.default.temporaryDirectory.appendingPathComponent("fifo-store-\(UUID())")
        let versions = store.appendingPathComponent("versions")
        try FileManager.default.createDirectory(at: versions, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: store) }
        for id in ["0000000000000001", "0000000000000002", "0000000000000003"] {
            try FileManager.default.copyItem(at: try randomModelCopy(), to: versions.appendingPathComponent(id))
        }
        let fifo = versions.appendingPathComponent("0000000000000002/model.safetensors").path
        try FileManager.default.removeItem(atPath: fifo)
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        func flip(to id: String) throws {
            let link = store.appendingPathComponent("current.new")
            try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: "versions/\(id)")
            XCTAssertEqual(rename(link.path, store.appendingPathComponent("current").path), 0)
        }
        try flip(to: "0000000000000001")
        let server = try Server(arguments: ["--model-store", store.path, "--model-store-poll", "0.2"])
        XCTAssertGreaterThan(server.port, 0, server.output)
        try flip(to: "0000000000000002")
        XCTAssertTrue(server.waitForLog("model reload failed"), server.output)
        XCTAssertTrue(server.output.contains("is a FIFO"), server.output)
        let info = try curl(["http://127.0.0.1:\(server.port)/info"])
        XCTAssertTrue(info.contains("0000000000000002/model.safetensors"), info)
        try flip(to: "0000000000000003")
        XCTAssertTrue(server.waitForLog("model swapped in"), server.output)
        let swapped = try curl(["http://127.0.0.1:\(server.port)/info"])
        XCTAssertTrue(swapped.contains("versions/0000000000000003"), swapped)
        XCTAssertFalse(swapped.contains("last_reload_failure\":{"), swapped)
    }

    /// Flips `store`/current to versions/`id` as publish does: a new symlink renamed over it.
    func flip(_ store: URL, to id: String) throws {
        let link = store.appendingPathComponent("current.new")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: "versions/\(id)")
        XCTAssertEqual(rename(link.path, store.appendingPathComponent("current").path), 0)
    }

    /// `curl -i`: the status code, the lowercased header block and the body.
    func fetch(_ arguments: [String]) throws -> (status: Int, headers: String, body: String) {
        let reply = try curl(["-i"] + arguments)
        let parts = reply.components(separatedBy: "\r\n\r\n")
        let head = parts.first ?? ""
        let status = head.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return (status, head.lowercased(), parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    /// A fresh cluster's model store holds no version yet (its directory may not even exist): rerankd exited 1
    /// ("has no current version yet") and the Deployment crash-looped until someone published. It starts live but
    /// not ready, refuses the rerank routes with 503 and Retry-After naming the store, shows it in /info, and
    /// serves the first version published without a restart.
    func testAnEmptyStoreStartsUnreadyAndServesTheFirstVersionPublished() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("empty-store-\(UUID())")
        let store = root.appendingPathComponent("store")  // not created: a fresh volume
        defer { try? FileManager.default.removeItem(at: root) }
        let server = try Server(arguments: ["--model-store", store.path, "--model-store-poll", "0.2"])
        XCTAssertGreaterThan(server.port, 0, server.output)
        let url = "http://127.0.0.1:\(server.port)"
        XCTAssertEqual(try fetch(["\(url)/health"]).status, 200)
        let ready = try fetch(["\(url)/ready"])
        XCTAssertEqual(ready.status, 503, ready.body)
        XCTAssertTrue(ready.body.contains("no model is published") && ready.body.contains(store.path), ready.body)
        let json = ["-H", "Content-Type: application/json", "-d", #"{"query": "rainbows", "texts": ["light", "rain"]}"#]
        for (route, body) in [("/rerank", json), ("/v1/rerank", ["-H", "Content-Type: application/json", "-d",
                                                                 #"{"query": "rainbows", "documents": ["light"]}"#])] {
            let refused = try fetch(["\(url)\(route)"] + body)
            XCTAssertEqual(refused.status, 503, refused.body)
            XCTAssertTrue(refused.headers.contains("retry-after:"), refused.headers)
            XCTAssertTrue(refused.body.contains(#""error_type":"Unhealthy""#) && refused.body.contains(store.path), refused.body)
        }
        let waiting = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try curl(["\(url)/info"]).utf8)) as? [String: Any])
        XCTAssertTrue(waiting["model"] is NSNull, "\(waiting)")
        XCTAssertEqual(waiting["state"] as? String, "no_model", "\(waiting)")
        XCTAssertEqual((waiting["template"] as? [String: Any])?["name"] as? String, "instructdistill")

        let id = "0000000000000001"
        try FileManager.default.createDirectory(at: store.appendingPathComponent("versions"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: try randomModelCopy(), to: store.appendingPathComponent("versions/\(id)"))
        try flip(store, to: id)
        let deadline = Date().addingTimeInterval(30)
        while try fetch(["\(url)/ready"]).status != 200, Date() < deadline { usleep(100_000) }
        XCTAssertEqual(try fetch(["\(url)/ready"]).status, 200, server.output)
        let served = try fetch(["\(url)/rerank"] + json)
        XCTAssertEqual(served.status, 200, served.body)
        XCTAssertTrue(served.body.hasPrefix("[{"), served.body)
        let serving = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try curl(["\(url)/info"]).utf8)) as? [String: Any])
        XCTAssertEqual((serving["model"] as? [String: Any])?["name"] as? String, id, "\(serving)")
        XCTAssertEqual(serving["state"] as? String, "serving", "\(serving)")

        kill(server.process.processIdentifier, SIGTERM)
        server.process.waitUntilExit()
        XCTAssertEqual(server.process.terminationStatus, 0, server.output)
    }

    /// A capture directory that cannot be created (here under a regular file; a read-only volume is the same) ended
    /// the process with `Error Domain=NSCocoaErrorDomain ...`, naming no flag. Capture is opt-in sampling: the server
    /// logs the flag, the path and the reason, shows it in /info and the metrics, and serves.
    func testAnUnusableCaptureDirectoryIsReportedAndServingGoesOn() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("capture-file-\(UUID())")
        XCTAssertTrue(FileManager.default.createFile(atPath: file.path, contents: Data("x".utf8)))
        defer { try? FileManager.default.removeItem(at: file) }
        let directory = file.appendingPathComponent("capture")
        let server = try Server(arguments: ["--capture-dir", directory.path, "--capture-rate", "1"])
        XCTAssertGreaterThan(server.port, 0, server.output)
        XCTAssertTrue(server.output.contains("--capture-dir"), server.output)
        XCTAssertTrue(server.output.contains(file.path) && server.output.contains("Not a directory"), server.output)
        XCTAssertFalse(server.output.contains("NSCocoaErrorDomain"), server.output)
        let url = "http://127.0.0.1:\(server.port)"
        let served = try fetch(["\(url)/rerank", "-H", "Content-Type: application/json",
                                "-d", #"{"query": "rainbows", "texts": ["light", "rain"]}"#])
        XCTAssertEqual(served.status, 200, served.body)
        let info = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try curl(["\(url)/info"]).utf8)) as? [String: Any])
        let capture = try XCTUnwrap(info["capture"] as? [String: Any], "\(info)")
        XCTAssertEqual(capture["directory"] as? String, directory.path)
        XCTAssertEqual(capture["active"] as? Bool, false)
        XCTAssertTrue((capture["error"] as? String)?.contains("Not a directory") == true, "\(capture)")
        let metrics = try curl(["\(url)/metrics"])
        XCTAssertTrue(metrics.contains("rerank_capture_active 0"), metrics)
        XCTAssertTrue(metrics.contains(#"rerank_capture_dropped_total{reason="unavailable"} 1"#), metrics)
        kill(server.process.processIdentifier, SIGTERM)
        server.process.waitUntilExit()
        XCTAssertEqual(server.process.terminationStatus, 0, server.output)
    }

    /// Start-up failures say which flag, exit 1 and print no usage text (usage is for a wrong command line, 64).
    func testStartupFailuresNameTheFlagAndPrintNoUsage() throws {
        let first = try Server(arguments: [])
        XCTAssertGreaterThan(first.port, 0, first.output)
        let taken = try Server(arguments: ["--port", "\(first.port)"])
        taken.process.waitUntilExit()
        XCTAssertEqual(taken.process.terminationStatus, 1, taken.output)
        XCTAssertTrue(taken.output.contains("--port \(first.port)") && taken.output.contains("Address already in use"),
                      taken.output)
        let template = try Server(arguments: ["--template-file", "/nonexistent/template.json"])
        template.process.waitUntilExit()
        XCTAssertEqual(template.process.terminationStatus, 1, template.output)
        XCTAssertTrue(template.output.contains("--template-file: ") && template.output.contains("/nonexistent/template.json"),
                      template.output)
        for failure in [taken, template] { XCTAssertFalse(failure.output.contains("Usage:"), failure.output) }
        let usage = try Server(arguments: ["--max-batch-tokens", "0"])
        usage.process.waitUntilExit()
        XCTAssertEqual(usage.process.terminationStatus, 64, usage.output)
    }

    /// The server's own refusals (413 over --max-body-bytes, HTTP/2's 503 over the body budget) answer in the
    /// documented error shape and are counted in rerank_http_requests_total; they were plain text and uncounted.
    func testRefusalsBeforeTheHandlerAreJSONAndCounted() throws {
        let server = try Server(arguments: ["--max-body-bytes", "10000", "--max-connection-body-bytes", "3000"])
        XCTAssertGreaterThan(server.port, 0, server.output)
        let url = "http://127.0.0.1:\(server.port)"
        let large = #"{"query": "q", "texts": [""# + String(repeating: "a", count: 12000) + #""]}"#
        let overBudget = #"{"query": "q", "texts": [""# + String(repeating: "a", count: 5000) + #""]}"#
        for (flags, body, status, type, fragment) in [
            ([String](), large, "413", "Validation", "--max-body-bytes 10000"),
            (["--http2-prior-knowledge"], large, "413", "Validation", "--max-body-bytes 10000"),
            (["--http2-prior-knowledge"], overBudget, "503", "Overloaded", "retry shortly"),
        ] {
            let reply = try curl(flags + ["-i", "\(url)/rerank", "-H", "Content-Type: application/json",
                                          "--data-binary", body])
            XCTAssertTrue(reply.contains(" \(status) "), reply)
            XCTAssertTrue(reply.lowercased().contains("content-type: application/json"), reply)
            XCTAssertTrue(reply.contains(#""error_type":"\#(type)""#) && reply.contains(fragment), reply)
        }
        let metrics = try curl(["\(url)/metrics"])
        XCTAssertTrue(metrics.contains(#"rerank_http_requests_total{route="/rerank",status="413"} 2"#), metrics)
        XCTAssertTrue(metrics.contains(#"rerank_http_requests_total{route="/rerank",status="503"} 1"#), metrics)
    }

    /// The same broken checkpoint given at start ends the process with a message, never a crash.
    func testABrokenCheckpointAtStartExitsWithAMessage() throws {
        let directory = try randomModelCopy()
        try setConfig(directory, "vocab_size", 512)  // smaller than the 1000-piece tokenizer and the weights
        let server = try Server(arguments: ["--model", directory.path])
        server.process.waitUntilExit()
        XCTAssertEqual(server.process.terminationReason, .exit, server.output)
        XCTAssertNotEqual(server.process.terminationStatus, 0)
        XCTAssertTrue(server.output.contains("config.json") || server.output.contains("model.safetensors"), server.output)
    }

    /// The API description the binary serves (its bundle resource) is the one in the repository, byte for byte:
    /// a client generated from /openapi.yaml sees what the README and the tests describe.
    func testTheServedOpenAPIDocumentIsTheRepositorysOne() throws {
        let root = Self.binary.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let repository = try String(contentsOf: root.appendingPathComponent("openapi.yaml"), encoding: .utf8)
        let server = try Server(arguments: [])
        XCTAssertGreaterThan(server.port, 0, server.output)
        XCTAssertEqual(try curl(["http://127.0.0.1:\(server.port)/openapi.yaml"]), repository)
    }

    func testHelpExplainsTheEnvironment() throws {
        let help = try Server(arguments: ["--help"])
        help.process.waitUntilExit()
        XCTAssertTrue(help.output.contains("RERANK_"), help.output)
        XCTAssertTrue(help.output.contains("--max-batch-delay"), help.output)
    }

    /// The embedded demo model (Scripts/demo/make_demo_model.sh) answers the README's first request sensibly,
    /// and tells apart topics it has seen with sentences that are not in its corpus.
    func testEmbeddedDemoModelRanksTheReadmeExampleSensibly() throws {
        let server = try Server(arguments: [])
        XCTAssertGreaterThan(server.port, 0, server.output)
        let cases = [("how do rainbows form", "Sunlight refracts in droplets.", "Stocks rose."),
                     ("what moves share prices", "Stocks rose.", "Sunlight refracts in droplets.")]
        for (query, relevant, other) in cases {
            let body = try JSONSerialization.data(withJSONObject: ["query": query, "texts": [other, relevant]])
            let reply = try curl(["http://127.0.0.1:\(server.port)/rerank", "-H", "Content-Type: application/json",
                                  "-d", String(decoding: body, as: UTF8.self)])
            let ranked = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(reply.utf8)) as? [[String: Any]], reply)
            XCTAssertEqual(ranked.map { $0["index"] as? Int }, [1, 0], "\(query): \(reply)")
        }
    }
}
