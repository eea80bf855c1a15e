import Foundation
import XCTest

/// The real `rerankd` binary: flags and RERANK_* variables, the ready line, h2c with curl,
/// SIGHUP reload and a clean exit on SIGTERM.
final class RerankdProcessTests: XCTestCase {
    static let binary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug/rerankd")

    final class Server {
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

    func curl(_ arguments: [String]) throws -> String {
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

    func testHelpExplainsTheEnvironment() throws {
        let help = try Server(arguments: ["--help"])
        help.process.waitUntilExit()
        XCTAssertTrue(help.output.contains("RERANK_"), help.output)
        XCTAssertTrue(help.output.contains("--max-batch-delay"), help.output)
    }
}
