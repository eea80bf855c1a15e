import Dispatch
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HTTPServer
import Logging
import Ranking
import RerankAPI
import RerankService
import XCTest

/// rerankd's stack (HTTP server, router, service, random test model) on an ephemeral loopback port.
final class LiveServer: Sendable {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let randomModel = root.appendingPathComponent("Tests/Fixtures/ranking/random_v4").path

    let service: RerankService
    let server: HTTPServer
    var port: Int { server.boundPort }

    /// - Parameter directory: the model to serve; nil starts without one (an empty model store), refusing requests
    ///   with `noModelMessage` until a reload loads one.
    init(model directory: String? = randomModel, template: PromptTemplate = .instructDistill, apiKey: String? = nil,
         adminToken: String? = nil, noModelMessage: String = "no model is loaded yet",
         configure: (inout ServiceConfiguration) -> Void = { _ in }) throws {
        var configuration = ServiceConfiguration()
        configure(&configuration)
        let model = try directory.map {
            try ModelLoader.load(directory: $0, template: template, maxInputTokens: configuration.maxInputTokens)
        }
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        service = RerankService(model: model, template: template, precision: .fp32, configuration: configuration,
                                logger: logger, noModelMessage: noModelMessage)
        let openAPI = try Data(contentsOf: Self.root.appendingPathComponent("openapi.yaml"))
        let router = RerankRouter(
            service: service,
            configuration: APIConfiguration(apiKey: apiKey, adminToken: adminToken, version: "test",
                                            openAPIDocument: Array(openAPI), maxBodyBytes: 2_000_000),
            logger: logger, metricsText: { "# metrics\n" })
        server = HTTPServer(configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0), logger: logger,
                            refusal: router.refusal, handler: router.handler)
        try server.start()
    }

    deinit {
        server.shutdown(drainTimeout: .seconds(5))
        service.drain()
    }

    struct Reply {
        let status: Int
        let headers: [String: String]
        let body: Data
        var json: Any? { try? JSONSerialization.jsonObject(with: body) }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    func request(_ method: String, _ path: String, body: Data? = nil, headers: [String: String] = [:]) throws -> Reply {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.httpBody = body
        request.timeoutInterval = 60
        if body != nil { request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: (Data?, URLResponse?, Error?)  // written before done.signal()
        URLSession.shared.dataTask(with: request) { outcome = ($0, $1, $2); done.signal() }.resume()
        done.wait()
        if let error = outcome.2 { throw error }
        let response = try XCTUnwrap(outcome.1 as? HTTPURLResponse)
        var fields: [String: String] = [:]
        for (name, value) in response.allHeaderFields { fields["\(name)".lowercased()] = "\(value)" }
        return Reply(status: response.statusCode, headers: fields, body: outcome.0 ?? Data())
    }

    func post(_ path: String, json: String, headers: [String: String] = [:]) throws -> Reply {
        try request("POST", path, body: Data(json.utf8), headers: headers)
    }
}
