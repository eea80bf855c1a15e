import Dispatch
import Foundation
import HTTPServer
import Logging
import Metrics
import Ranking
import RerankService

/// Routes HTTP requests to the rerank service: JSON in and out, auth, access log, metrics.
public final class RerankRouter: Sendable {
    let service: RerankService
    let configuration: APIConfiguration
    let logger: Logger
    let metricsText: @Sendable () -> String
    let cancelledLog = AccessLogLimiter()
    let decoder = JSONDecoder()
    let encoder = JSONEncoder()
    /// Large bodies are decoded here, off the connection's event loop, which serves other connections too.
    private let decoding = DispatchQueue(label: "rerank.decode", attributes: .concurrent)
    /// Bodies up to this size decode inline: a queue hop costs more than the decode.
    static let inlineDecodeBytes = 16 << 10

    /// - Parameter metricsText: renders the Prometheus exposition for `/metrics`.
    public init(service: RerankService, configuration: APIConfiguration, logger: Logger,
                metricsText: @escaping @Sendable () -> String) {
        self.service = service
        self.configuration = configuration
        self.logger = logger
        self.metricsText = metricsText
        // Sorted keys: the same answer is the same bytes (Foundation would order keys differently per call).
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
    }

    enum Route: String {
        case tei = "/rerank", cohereV1 = "/v1/rerank", cohereV2 = "/v2/rerank"
        case health = "/health", ready = "/ready", info = "/info", metrics = "/metrics", openAPI = "/openapi.yaml"
        case reload = "/admin/reload"

        var method: String {
            switch self {
            case .tei, .cohereV1, .cohereV2, .reload: return "POST"
            case .health, .ready, .info, .metrics, .openAPI: return "GET"
            }
        }
    }

    /// The handler to give the HTTP server.
    public var handler: HTTPHandler {
        { [self] request, responder in handle(request, responder) }
    }

    /// The HTTP server's own refusals (400, 408, 413, 431, HTTP/2's 503 over the body budget) in the API's
    /// error shape, counted in `rerank_http_requests_total` like every other answer.
    public var refusal: HTTPRefusal {
        { [self] status, reason, target in refusalResponse(status: status, reason: reason, target: target) }
    }

    func refusalResponse(status: Int, reason: String, target: String?) -> HTTPResponse {
        let path = target.map { String($0.prefix { $0 != "?" }) }
        let route = path.flatMap(Route.init(rawValue:))?.rawValue ?? "unmatched"
        var message = reason
        var headers = HTTPHeaders([("Content-Type", "application/json")])
        if status == 413 { message += " (--max-body-bytes \(configuration.maxBodyBytes))" }
        if status == 503 {
            message += "; retry shortly"
            headers.add("Retry-After", "1")
        }
        let type = status == 503 ? "Overloaded" : "Validation"
        Counter(label: "rerank_http_requests_total", dimensions: [("route", route), ("status", String(status))])
            .increment()
        let body = #"{"error":"# + jsonString(message) + #","error_type":"# + jsonString(type) + "}"
        return HTTPResponse(status: status, headers: headers, body: Array(body.utf8))
    }

    func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
        let exchange = Exchange(request: request, responder: responder, router: self)
        guard let route = Route(rawValue: request.path) else {
            return exchange.fail(.notFound("no route for \(request.path)"))
        }
        exchange.route = route.rawValue
        let method = request.method == "HEAD" ? "GET" : request.method
        guard method == route.method else {
            return exchange.fail(.methodNotAllowed("\(request.path) takes \(route.method)"),
                                 headers: [("Allow", route.method == "GET" ? "GET, HEAD" : route.method)])
        }
        switch route {
        case .tei, .cohereV1, .cohereV2:
            if let key = configuration.apiKey, !exchange.bearerMatches(key) {
                return exchange.fail(.unauthorized("missing or wrong API key (Authorization: Bearer <key>)"))
            }
            if request.body.count <= Self.inlineDecodeBytes {
                rerank(route, exchange)
            } else {
                decoding.async { [self] in rerank(route, exchange) }
            }
        case .reload:
            guard let token = configuration.adminToken else {
                return exchange.fail(APIError(status: 403, type: "Forbidden",
                                              message: "admin routes are off; start the server with --admin-token"))
            }
            guard exchange.bearerMatches(token) else {
                return exchange.fail(.unauthorized("missing or wrong admin token (Authorization: Bearer <token>)"))
            }
            reload(exchange)
        case .health:
            exchange.sendJSON(200, #"{"status":"ok"}"#)
        case .ready:
            switch service.state {
            case .serving:
                exchange.sendJSON(200, #"{"status":"ready"}"#)
            case .draining:
                exchange.fail(APIError(status: 503, type: "Unhealthy", message: "draining", retryAfter: 1))
            case .noModel:
                // Not ready, but alive: the first model published is loaded without a restart.
                exchange.fail(APIError(status: 503, type: "Unhealthy", message: service.noModelReason, retryAfter: 1))
            }
        case .info:
            exchange.send(200, contentType: "application/json", body: Array(infoJSON()))
        case .metrics:
            exchange.send(200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(metricsText().utf8))
        case .openAPI:
            exchange.send(200, contentType: "application/yaml", body: configuration.openAPIDocument)
        }
    }

    private func rerank(_ route: Route, _ exchange: Exchange) {
        let parsed: ParsedRerank
        do {
            parsed = try parseRerank(route, body: exchange.request.body)
        } catch let error as APIError {
            return exchange.fail(error)
        } catch {
            return exchange.fail(.backend("\(error)"))
        }
        exchange.documents = parsed.input.documents.count
        do {
            let ticket = try service.submit(parsed.input) { [self] result in
                switch result {
                case let .success(output):
                    exchange.sendJSON(200, respond(parsed, output), headers: timingHeaders(output, exchange))
                case let .failure(error):
                    exchange.fail(APIError(error))
                }
            }
            exchange.responder.onCancel { ticket.cancel() }
        } catch {
            exchange.fail(APIError(error))
        }
    }

    private func reload(_ exchange: Exchange) {
        var directory: String? = nil
        if !exchange.request.body.isEmpty {
            struct ReloadRequest: Decodable { let model: String? }
            do {
                directory = try decode(ReloadRequest.self, exchange.request.body).model
            } catch let error as APIError {
                return exchange.fail(error)
            } catch {
                return exchange.fail(.backend("\(error)"))
            }
        }
        if let given = directory, given.trimmingCharacters(in: .whitespaces).isEmpty {
            // An empty path would resolve to the server's working directory.
            return exchange.fail(.validation("\"model\" must be a checkpoint directory, not an empty string"))
        }
        if let given = directory, !given.hasPrefix("/") {
            // A relative path would depend on where the server happened to start.
            return exchange.fail(.validation("\"model\" must be an absolute path, got \"\(given)\""))
        }
        service.reload(directory: directory) { [self] result in
            switch result {
            case let .success(model):
                exchange.send(200, contentType: "application/json", body: Array(infoJSON(model: model)))
            case let .failure(error):
                exchange.fail(APIError(status: 422, type: "Validation", message: "\(error)"))
            }
        }
    }

    private func timingHeaders(_ output: RerankOutput, _ exchange: Exchange) -> [(String, String)] {
        func ms(_ seconds: Double) -> String { String(Int((seconds * 1000).rounded())) }
        return [
            ("x-tokenization-time", ms(output.tokenizationSeconds)),
            ("x-queue-time", ms(output.queueSeconds)),
            ("x-inference-time", ms(output.inferenceSeconds)),
            ("x-compute-time", ms(output.tokenizationSeconds + output.inferenceSeconds)),
            ("x-total-time", ms(exchange.elapsedSeconds)),
            ("x-truncated-documents", String(output.truncatedDocuments)),
            // Which limits cut how many documents, e.g. "max_passage_words=1, max_input_tokens=1".
            ("x-truncated-by", PassageLimit.allCases.compactMap { limit in
                output.truncatedBy[limit].map { "\(limit.rawValue)=\($0)" }
            }.joined(separator: ", ")),
            ("x-prompt-tokens", String(output.promptTokens)),
        ].filter { !$0.1.isEmpty }
    }
}
