import Foundation
import XCTest

/// The official `cohere` Python SDK, unchanged, pointed at the server (Client and ClientV2).
final class CohereSDKTests: XCTestCase {
    func testOfficialSDKWorksUnchanged() throws {
        let python = ProcessInfo.processInfo.environment["RERANK_TEST_PYTHON"]
            ?? FileManager.default.homeDirectoryForCurrentUser.path + "/.cache/rerank/test-venv/bin/python"
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: python),
                      "no Python with the cohere SDK at \(python); run Scripts/install-deps.sh")
        let server = try LiveServer(apiKey: "sdk-key")
        let script = LiveServer.root.appendingPathComponent("Tests/RerankAPITests/Clients/cohere_client.py").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, "http://127.0.0.1:\(server.port)", "sdk-key"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, text)
        XCTAssertTrue(text.contains("cohere v1 ok") && text.contains("cohere v2 ok"), text)
    }
}
