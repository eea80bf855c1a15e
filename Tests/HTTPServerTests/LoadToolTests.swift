import XCTest

/// Short, bounded runs of h2load and wrk: everything answered, no errors.
final class LoadToolTests: XCTestCase {
    func testH2loadH2cAndHTTP1() throws {
        let server = try TestServer()
        let h2load = try XCTUnwrap(ExternalTool.find("h2load"))
        let (status, output) = h2load.run(["-n", "3000", "-c", "8", "-m", "10", "\(server.url)/"], timeout: 60)
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("3000 succeeded, 0 failed, 0 errored, 0 timeout"), output)
        XCTAssertTrue(output.contains("status codes: 3000 2xx"), output)

        let (h1Status, h1) = h2load.run(["--h1", "-n", "1000", "-c", "8", "\(server.url)/"], timeout: 60)
        XCTAssertEqual(h1Status, 0, h1)
        XCTAssertTrue(h1.contains("1000 succeeded, 0 failed, 0 errored, 0 timeout"), h1)
    }

    func testWrkKeepAlive() throws {
        let server = try TestServer()
        let wrk = try XCTUnwrap(ExternalTool.find("wrk"))
        let (status, output) = wrk.run(["-t1", "-c16", "-d1s", "\(server.url)/"], timeout: 30)
        XCTAssertEqual(status, 0, output)
        XCTAssertFalse(output.contains("Socket errors"), output)
        XCTAssertFalse(output.contains("Non-2xx"), output)
        let requests = output.split(separator: "\n").first { $0.contains("requests in") }
            .flatMap { Int($0.trimmingCharacters(in: .whitespaces).split(separator: " ")[0]) } ?? 0
        XCTAssertGreaterThan(requests, 100, output)
    }
}
