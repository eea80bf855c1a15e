/// A complete request as the handler sees it: head plus the whole (decoded) body.
public struct HTTPRequest: Sendable {
    public enum Version: Sendable, Equatable, CustomStringConvertible {
        case http1_0, http1_1, http2
        public var description: String {
            switch self {
            case .http1_0: return "HTTP/1.0"
            case .http1_1: return "HTTP/1.1"
            case .http2: return "HTTP/2"
            }
        }
    }

    public var method: String
    /// The request target as sent (origin-form, absolute-form or `*`).
    public var target: String
    /// The path component of the target (`/` for absolute-form without path).
    public var path: String
    /// The query after `?`, without the `?`; empty when absent.
    public var query: String
    public var version: Version
    public var headers: HTTPHeaders
    /// The body after transfer and content decoding (`Content-Encoding` is removed when decoded).
    public var body: [UInt8]

    public init(method: String, target: String, version: Version, headers: HTTPHeaders, body: [UInt8] = []) {
        self.method = method
        self.target = target
        let (path, query) = HTTPRequest.split(target: target)
        self.path = path
        self.query = query
        self.version = version
        self.headers = headers
        self.body = body
    }

    /// Splits origin-form or absolute-form into path and query (RFC 9112 section 3.2).
    static func split(target: String) -> (path: String, query: String) {
        var bytes = Substring(target).utf8[...]
        if bytes.first != UInt8(ascii: "/"), let colon = bytes.firstIndex(of: UInt8(ascii: ":")) {
            // absolute-form: skip "scheme://authority".
            var rest = bytes[bytes.index(after: colon)...]
            while rest.first == UInt8(ascii: "/") { rest = rest.dropFirst() }
            bytes = rest.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }).map { rest[$0...] }
                ?? rest[rest.endIndex...]
        }
        let question = bytes.firstIndex(of: UInt8(ascii: "?"))
        let path = String(Substring(bytes[..<(question ?? bytes.endIndex)]))
        let query = question.map { String(Substring(bytes[bytes.index(after: $0)...])) } ?? ""
        return (path.isEmpty ? "/" : path, query)
    }
}
