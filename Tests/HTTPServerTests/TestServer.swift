import Dispatch
import Foundation
import HTTPServer
import Logging
import XCTest

/// An HTTPServer on 127.0.0.1 and an ephemeral port, stopped when the test ends.
final class TestServer {
    let server: HTTPServer
    var port: Int { server.boundPort }
    var url: String { "http://127.0.0.1:\(port)" }

    init(configure: (inout HTTPServerConfiguration) -> Void = { _ in },
         handler: @escaping HTTPHandler = TestServer.echo) throws {
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        configure(&configuration)
        var logger = Logger(label: "test")
        logger.logLevel = ProcessInfo.processInfo.environment["HTTP_TEST_LOG"] != nil ? .trace : .critical
        server = HTTPServer(configuration: configuration, logger: logger, handler: handler)
        try server.start()
    }

    deinit {
        server.shutdown(drainTimeout: .seconds(1))
    }

    /// Answers with the method, path, query and body, so clients can check what arrived.
    static let echo: HTTPHandler = { request, responder in
        var headers = HTTPHeaders([("content-type", "text/plain")])
        headers.add("x-method", request.method)
        headers.add("x-path", request.path)
        headers.add("x-query", request.query)
        headers.add("x-version", request.version.description)
        headers.add("x-body-length", String(request.body.count))
        let body = request.path == "/big"
            ? Array(String(repeating: "0123456789abcdef", count: 4096).utf8)
            : request.body.isEmpty ? Array("hello\n".utf8) : request.body
        responder.respond(HTTPResponse(status: 200, headers: headers, body: body))
    }
}

/// A blocking TCP client on raw sockets, for byte-exact requests and malformed input.
final class RawClient {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if rc != 0 { throw POSIXError(.ECONNREFUSED) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ text: String) {
        send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Foundation.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    /// Reads until the peer closes (or the 10 s receive timeout); returns everything read.
    func readToEnd() -> String {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads until `count` complete responses (by content-length) have arrived.
    func readResponses(_ count: Int) -> [(status: Int, headers: [String: String], body: String)] {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var responses: [(Int, [String: String], String)] = []
        while responses.count < count {
            if let (response, used) = RawClient.parseResponse(data) {
                responses.append(response)
                data.removeFirst(used)
                continue
            }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        return responses
    }

    /// True when the server closed the connection (EOF) within the receive timeout.
    func isClosedByPeer() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return true }
            if n < 0 { return errno == ECONNRESET }
        }
    }

    static func parseResponse(_ data: [UInt8]) -> ((Int, [String: String], String), Int)? {
        let separator = Array("\r\n\r\n".utf8)
        guard data.count >= 4, let end = (0...(data.count - 4)).first(where: { Array(data[$0..<$0 + 4]) == separator })
        else { return nil }
        let head = String(decoding: data[0..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(head[0].split(separator: " ")[1]) ?? 0
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            headers[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        let length = status < 200 || status == 204 ? 0 : Int(headers["content-length"] ?? "0") ?? 0
        guard data.count >= end + 4 + length else { return nil }
        return ((status, headers, String(decoding: data[(end + 4)..<(end + 4 + length)], as: UTF8.self)), end + 4 + length)
    }
}

/// Runs an external client; XCTFails (never skips) when it is not installed.
struct ExternalTool {
    let path: String

    static func find(_ name: String, file: StaticString = #filePath, line: UInt = #line) -> ExternalTool? {
        for directory in ["/usr/bin", "/usr/local/bin", "/bin"] where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
            return ExternalTool(path: "\(directory)/\(name)")
        }
        XCTFail("\(name) is not installed (apt-get install curl nghttp2-client wrk)", file: file, line: line)
        return nil
    }

    /// The Python with httpx and h2: $HTTP_TEST_PYTHON, else $RERANK_TEST_PYTHON (Scripts/test.sh sets
    /// it), else /root/httpvenv/bin/python3.
    static func python(file: StaticString = #filePath, line: UInt = #line) -> ExternalTool? {
        let environment = ProcessInfo.processInfo.environment
        let path = environment["HTTP_TEST_PYTHON"] ?? environment["RERANK_TEST_PYTHON"] ?? "/root/httpvenv/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            XCTFail("no Python with httpx and h2 at \(path) (set HTTP_TEST_PYTHON)", file: file, line: line)
            return nil
        }
        return ExternalTool(path: path)
    }

    /// Runs to completion (bounded by `timeout`); returns exit status and stdout + stderr.
    func run(_ arguments: [String], timeout: TimeInterval = 30) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return (-1, "\(error)") }
        let killer = DispatchWorkItem { process.terminate() }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        killer.cancel()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}

/// Tests/Fixtures/http, located from this file (no SwiftPM resources).
let fixturesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fixtures/http")
