/// Serialises HTTP/1.1 responses: status line, the server's framing headers, then the body.
enum HTTP1ResponseEncoder {
    /// Whether a status forbids a body (RFC 9110 section 6.4.1).
    static func forbidsBody(_ status: Int) -> Bool {
        status < 200 || status == 204 || status == 304
    }

    static func encode(_ response: HTTPResponse, includeBody: Bool, keepAlive: Bool,
                       requestVersion: HTTPRequest.Version, date: String, serverName: String?) -> [UInt8] {
        var head = "HTTP/1.1 \(response.status) \(HTTPStatus.reason(response.status))\r\n"
        if let serverName { head += "server: \(serverName)\r\n" }
        head += "date: \(date)\r\n"
        for (name, value) in response.headers
        where name != "content-length" && name != "transfer-encoding" && name != "connection" {
            head += "\(name): \(value)\r\n"
        }
        let bodyAllowed = !forbidsBody(response.status)
        if bodyAllowed { head += "content-length: \(response.body.count)\r\n" }
        if !keepAlive {
            head += "connection: close\r\n"
        } else if requestVersion == .http1_0 {
            head += "connection: keep-alive\r\n"
        }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if includeBody && bodyAllowed { bytes.append(contentsOf: response.body) }
        return bytes
    }
}
