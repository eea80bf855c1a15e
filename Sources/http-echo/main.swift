import ArgumentParser
import Dispatch
import Foundation
import HTTPServer
import Logging

/// Serves a trivial handler over HTTPServer: echoes request bodies, otherwise answers "hello".
/// For benchmarks (Scripts/bench/http_bench.sh) and manual testing with curl, nghttp, h2load, wrk.
@main
struct HTTPEcho: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "http-echo", abstract: "Trivial HTTP/1.1 + h2c server for benchmarks and manual tests.")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port (0 picks a free one, printed on stdout).") var port = 8080
    @Option(help: "Maximum open connections.") var maxConnections = 4096
    @Option(help: "Maximum request body bytes.") var maxBodyBytes = 2_000_000
    @Option(help: "Maximum request head bytes.") var maxHeaderBytes = 16 * 1024
    @Option(help: "Keep-alive idle timeout, seconds.") var idleTimeout = 60
    @Option(help: "Request head timeout, seconds.") var headTimeout = 10
    @Option(help: "Drain timeout on SIGTERM/SIGINT, seconds.") var drainTimeout = 10
    @Option(help: "Serial queues connections are spread over (default: one per core).") var eventLoops: Int?
    @Option(help: "Answer after this many milliseconds, from another queue (simulates batching).")
    var delayMs = 0
    @Option(help: "Log level (trace, debug, info, notice, warning, error, critical).") var logLevel = "notice"

    func run() throws {
        var logger = Logger(label: "http-echo")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .notice
        var configuration = HTTPServerConfiguration(host: host, port: port)
        configuration.limits.maxConnections = maxConnections
        configuration.limits.maxBodyBytes = maxBodyBytes
        configuration.limits.maxHeaderBytes = maxHeaderBytes
        configuration.timeouts.idle = .seconds(idleTimeout)
        configuration.timeouts.head = .seconds(headTimeout)
        configuration.eventLoops = eventLoops
        configuration.serverName = "http-echo"

        let hello = Array("hello\n".utf8)
        let delay = delayMs
        let server = HTTPServer(configuration: configuration, logger: logger) { request, responder in
            let response = HTTPResponse(status: 200, headers: HTTPHeaders([("content-type", "text/plain")]),
                                        body: request.body.isEmpty ? hello : request.body)
            if delay == 0 {
                responder.respond(response)
            } else {
                DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(delay)) {
                    responder.respond(response)
                }
            }
        }
        try server.start()
        print("listening on \(host):\(server.boundPort)")
        fflush(nil)  // all output streams

        let drain = drainTimeout
        var sources: [DispatchSourceSignal] = []
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                server.shutdown(drainTimeout: .seconds(drain))
                Foundation.exit(0)
            }
            source.resume()
            sources.append(source)
        }
        withExtendedLifetime(sources) { dispatchMain() }
    }
}
