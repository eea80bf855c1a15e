/// A parsed HTTP/1.x request line and header section, with the framing decided from it.
struct HTTP1RequestHead: Equatable {
    enum Framing: Equatable {
        case none
        case length(Int)
        case chunked
    }

    var method: String
    var target: String
    var version: HTTPRequest.Version
    var headers: HTTPHeaders
    var framing: Framing
    /// Whether the connection may stay open after this exchange (RFC 9112 section 9.3).
    var keepAlive: Bool
    var expectContinue: Bool

    /// Decides framing and connection semantics from the fields (RFC 9112 sections 6 and 9).
    init(method: String, target: String, version: HTTPRequest.Version, headers: HTTPHeaders,
         maxBodyBytes: Int) throws(HTTPError) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers

        let transferCodings = headers.tokens("transfer-encoding")
        let lengths = headers.values("content-length")
        if !headers.values("transfer-encoding").isEmpty {
            if version == .http1_0 { throw HTTPError(400, "transfer-encoding in an HTTP/1.0 request") }
            if !lengths.isEmpty { throw HTTPError(400, "both content-length and transfer-encoding") }
            if transferCodings.last != "chunked" { throw HTTPError(400, "chunked is not the final transfer coding") }
            if transferCodings != ["chunked"] { throw HTTPError(501, "unsupported transfer coding") }
            framing = .chunked
        } else if !lengths.isEmpty {
            var length: Int?
            for element in lengths.flatMap({ $0.split(separator: ",", omittingEmptySubsequences: false) }) {
                let digits = element.trimmingOWS()
                guard !digits.isEmpty, digits.utf8.count <= 18, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                      let value = Int(digits) else { throw HTTPError(400, "invalid content-length") }
                if let previous = length, previous != value { throw HTTPError(400, "differing content-length values") }
                length = value
            }
            let value = length ?? 0
            if value > maxBodyBytes { throw HTTPError(413, "content-length \(value) over the body limit", target: target) }
            framing = value == 0 ? .none : .length(value)
        } else {
            framing = .none
        }

        let hosts = headers.values("host")
        if version == .http1_1 && hosts.count != 1 { throw HTTPError(400, "HTTP/1.1 request without exactly one host") }
        if hosts.count > 1 { throw HTTPError(400, "several host fields") }

        let connection = headers.tokens("connection")
        keepAlive = version == .http1_1 ? !connection.contains("close") : connection.contains("keep-alive")

        let expectations = headers.values("expect")
        if expectations.isEmpty {
            expectContinue = false
        } else if expectations.count == 1, expectations[0].lowercased() == "100-continue" {
            expectContinue = version == .http1_1
        } else {
            throw HTTPError(417, "unsupported expectation")
        }
    }
}
