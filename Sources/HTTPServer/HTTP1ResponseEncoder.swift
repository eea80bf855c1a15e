/// Serialises HTTP/1.1 responses: status line, the server's framing headers, then the body.
enum HTTP1ResponseEncoder {
    /// Whether a status forbids a body (RFC 9110 section 6.4.1).
    static func forbidsBody(_ status: Int) -> Bool {
        status < 200 || status == 204 || status == 304
    }

    static func encode(_ response: HTTPResponse, includeBody: Bool, keepAlive: Bool,
                       requestVersion: HTTPRequest.Version, date: String, serverName: String?) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(160 + response.headers.count * 40 + (includeBody ? response.body.count : 0))
        func line(_ name: String, _ value: String) {
            bytes.append(contentsOf: name.utf8)
            bytes.append(contentsOf: ": ".utf8)
            bytes.append(contentsOf: value.utf8)
            bytes.append(contentsOf: "\r\n".utf8)
        }
        bytes.append(contentsOf: "HTTP/1.1 ".utf8)
        bytes.append(contentsOf: String(response.status).utf8)
        bytes.append(0x20)
        bytes.append(contentsOf: HTTPStatus.reason(response.status).utf8)
        bytes.append(contentsOf: "\r\n".utf8)
        if let serverName { line("server", serverName) }
        line("date", date)
        for (name, value) in response.headers
        where name != "content-length" && name != "transfer-encoding" && name != "connection" {
            line(name, value)
        }
        let bodyAllowed = !forbidsBody(response.status)
        if bodyAllowed { line("content-length", String(response.body.count)) }
        if !keepAlive {
            line("connection", "close")
        } else if requestVersion == .http1_0 {
            line("connection", "keep-alive")
        }
        bytes.append(contentsOf: "\r\n".utf8)
        if includeBody && bodyAllowed { bytes.append(contentsOf: response.body) }
        return bytes
    }
}
