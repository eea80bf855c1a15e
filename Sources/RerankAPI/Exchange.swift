import Dispatch
import Foundation
import HTTPServer
import Logging
import Metrics

/// One request on its way through the router: sends the response once, then writes the access-log
/// line and the request metrics.
/// Unchecked Sendable: `route` and `documents` are set on the connection thread before the request is
/// handed on, and only read after; the responder is thread-safe.
final class Exchange: @unchecked Sendable {
    let request: HTTPRequest
    let responder: HTTPResponder
    private let logger: Logger
    private let cancelledLog: AccessLogLimiter
    private let started = DispatchTime.now().uptimeNanoseconds
    /// The route label for metrics; "unmatched" keeps unknown paths from minting new series.
    var route = "unmatched"
    var documents = 0

    init(request: HTTPRequest, responder: HTTPResponder, router: RerankRouter) {
        self.request = request
        self.responder = responder
        self.logger = router.logger
        self.cancelledLog = router.cancelledLog
    }

    var elapsedSeconds: Double { Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }

    /// True when the request carries `Authorization: Bearer <secret>` (compared in constant time).
    func bearerMatches(_ secret: String) -> Bool {
        guard let header = request.headers["authorization"] else { return false }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        let given = Array(parts[1].trimmingCharacters(in: .whitespaces).utf8), expected = Array(secret.utf8)
        var difference = UInt8(given.count == expected.count ? 0 : 1)
        for index in 0..<max(given.count, expected.count) {
            difference |= (index < given.count ? given[index] : 0) ^ (index < expected.count ? expected[index] : 1)
        }
        return difference == 0
    }

    func sendJSON(_ status: Int, _ json: String, headers: [(String, String)] = []) {
        send(status, contentType: "application/json", body: Array(json.utf8), headers: headers)
    }

    func fail(_ error: APIError, headers: [(String, String)] = []) {
        var headers = headers
        if let seconds = error.retryAfter { headers.append(("Retry-After", String(seconds))) }
        let body = #"{"error":"# + jsonString(error.message) + #","error_type":"# + jsonString(error.type) + "}"
        sendJSON(error.status, body, headers: headers)
    }

    func send(_ status: Int, contentType: String, body: [UInt8], headers: [(String, String)] = []) {
        var fields = HTTPHeaders([("Content-Type", contentType)])
        for (name, value) in headers { fields.add(name, value) }
        responder.respond(HTTPResponse(status: status, headers: fields, body: body))
        let seconds = elapsedSeconds
        Counter(label: "rerank_http_requests_total", dimensions: [("route", route), ("status", String(status))])
            .increment()
        Metrics.Timer(label: "rerank_http_request_duration_seconds", dimensions: [("route", route)])
            .recordSeconds(seconds)
        // Built only when the line is written (the logger's message is an autoclosure).
        let line = { [request, documents] in
            "\(request.method) \(request.path) \(status) docs=\(documents) ms=\(String(format: "%.1f", seconds * 1000))"
        }
        guard responder.isCancelled else { return logger.info("\(line())") }
        let (write, suppressed) = cancelledLog.admit()
        if suppressed > 0 { logger.notice("\(suppressed) access-log lines of cancelled requests suppressed") }
        if write { logger.info("\(line()) (client went away)") }
    }
}

/// A JSON string literal for `text`, quotes included.
func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
