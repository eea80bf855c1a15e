/// A complete response. The server adds framing headers (`content-length`, `date`, `server`) itself
/// and ignores any `content-length`/`transfer-encoding` given here.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: String) {
        self.init(status: status, headers: HTTPHeaders([("content-type", contentType)]), body: Array(body.utf8))
    }

    /// The short plain-text response the server itself sends for protocol errors and limits.
    static func error(_ status: Int) -> HTTPResponse {
        HTTPResponse(status: status, body: "\(status) \(HTTPStatus.reason(status))\n")
    }
}
