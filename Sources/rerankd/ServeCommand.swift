import ArgumentParser
import Dispatch
import Foundation
import HTTPServer
import Logging
import Metrics
import ModelStore
import Prometheus
import Ranking
import RerankAPI
import RerankService
import Synchronization
import T5

extension T5Model.Precision: ExpressibleByArgument {}

struct Rerankd: ParsableCommand {
    static let version = "0.1.0"
    static let configuration = CommandConfiguration(
        commandName: "rerankd",
        abstract: "Reranking server: scores (query, document) pairs with a pointwise FLAN-T5 model.",
        discussion: """
            Serves POST /rerank (text-embeddings-inference shape), POST /v1/rerank (Cohere v1 / Jina), \
            POST /v2/rerank (Cohere v2), GET /health, /ready, /info, /metrics, /openapi.yaml, and \
            POST /admin/reload (with --admin-token) over HTTP/1.1 and HTTP/2 cleartext (h2c). \
            Every option can also be set with an environment variable: RERANK_ and the option name in \
            capitals with underscores (RERANK_MAX_BATCH_TOKENS=4096); a flag wins over the variable. \
            SIGHUP reloads the model from --model (or the store's current version); SIGTERM/SIGINT drain and exit. \
            With --model-store the server follows the store's `current` version as publishers flip it.
            """,
        version: version)

    static let environmentOptions = [
        "host", "port", "model", "template", "template-file", "admin-token", "api-key", "max-input-tokens",
        "max-documents", "max-batch-tokens", "max-batch-pairs", "max-batch-delay", "max-queued-tokens",
        "request-timeout", "tokenizer-threads", "max-body-bytes", "max-connection-body-bytes", "max-buffered-body-bytes",
        "max-connections", "drain-timeout", "log-level", "model-store", "model-store-poll", "capture-dir",
        "capture-rate", "capture-max-bytes", "precision", "reload-timeout",
    ]

    @Option(help: "Address to listen on.") var host = "0.0.0.0"
    @Option(help: "TCP port (0 picks a free one).") var port = 8080
    @Option(help: ArgumentHelp(
        "Checkpoint directory (Hugging Face layout). Default: the embedded demo model (a toy reranker of "
            + "36 everyday topics, for trying the API only).", valueName: "dir"))
    var model: String?
    @Option(help: ArgumentHelp(
        "Model store (see `rerank-admin publish`): serve STORE/current and hot-swap whenever it is flipped. "
            + "Not with --model.", valueName: "dir"))
    var modelStore: String?
    @Option(help: "Seconds between checks of the model store's current version.") var modelStorePoll = 2.0
    @Option(help: ArgumentHelp("Seconds a reload (SIGHUP, /admin/reload, a store flip) may take before it is "
        + "reported as failed in /info and rerank_model_reloads_total, and the next reload may run."))
    var reloadTimeout = 300.0
    @Option(help: ArgumentHelp(
        "Opt-in: sample admitted requests (query and documents: user data) into JSON lines here, in the teacher's "
            + "input format, for `rerank-admin pipeline --captured DIR`. Off without it.", valueName: "dir"))
    var captureDir: String?
    @Option(help: "Fraction of requests captured with --capture-dir (0 captures nothing).") var captureRate = 0.01
    @Option(help: "Most bytes of capture files kept; the oldest files are deleted beyond it.")
    var captureMaxBytes = 1 << 30
    @Option(help: ArgumentHelp("Prompt template preset: \(PromptTemplate.presets.keys.sorted().joined(separator: ", ")).",
                               valueName: "name"))
    var template = PromptTemplate.instructDistill.name
    @Option(help: ArgumentHelp("Custom template JSON file (overrides --template).", valueName: "file"))
    var templateFile: String?
    @Option(help: "Bearer token for POST /admin/reload; admin routes are off without it.") var adminToken: String?
    @Option(help: "Bearer key the rerank routes require; open when unset.") var apiKey: String?
    @Option(help: "Token budget of one prompt; longer documents are cut.") var maxInputTokens = 512
    @Option(help: ArgumentHelp("fp32 (exact, the default) or int8 (weights per output row, activations per row, "
        + "oneDNN's int8 GEMM; faster, scores move slightly). Kept across reloads.", valueName: "precision"))
    var precision: T5Model.Precision = .fp32
    @Option(help: "Most documents in one request.") var maxDocuments = 1000
    @Option(help: "Most prompt tokens in one model batch (1 disables batching across pairs).")
    var maxBatchTokens = 8192
    @Option(help: "Most (query, document) pairs in one model batch.") var maxBatchPairs = 64
    @Option(help: "Seconds the batcher may wait for a fuller batch once the core is free.")
    var maxBatchDelay = 0.0
    @Option(help: "Refuse new requests with 429 while more prompt tokens than this are queued.")
    var maxQueuedTokens = 262_144
    @Option(help: "Seconds a request may wait and run before it is dropped (0: no limit).")
    var requestTimeout = 60.0
    @Option(help: "Threads that tokenize requests while the model runs.") var tokenizerThreads = 1
    @Option(help: "Largest request body in bytes (413 above).") var maxBodyBytes = 2_000_000
    @Option(help: "HTTP/2: request body bytes one connection may have in flight across its streams (503 above).")
    var maxConnectionBodyBytes = 8_000_000
    @Option(help: "HTTP/2: request body bytes in flight across all connections (503 above).")
    var maxBufferedBodyBytes = 256_000_000
    @Option(help: "Most open client connections.") var maxConnections = 1024
    @Option(help: "Seconds to let in-flight requests finish on SIGTERM/SIGINT.") var drainTimeout = 30.0
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        for (name, value) in [("--max-input-tokens", maxInputTokens), ("--max-documents", maxDocuments),
                              ("--max-batch-tokens", maxBatchTokens), ("--max-batch-pairs", maxBatchPairs),
                              ("--max-queued-tokens", maxQueuedTokens), ("--tokenizer-threads", tokenizerThreads),
                              ("--max-body-bytes", maxBodyBytes), ("--max-connections", maxConnections),
                              ("--max-connection-body-bytes", maxConnectionBodyBytes),
                              ("--max-buffered-body-bytes", maxBufferedBodyBytes)]
            where value < 1 {
            throw ValidationError("\(name) must be at least 1")
        }
        guard maxBatchDelay >= 0, requestTimeout >= 0, drainTimeout >= 0 else {
            throw ValidationError("durations must not be negative")
        }
        if model != nil, modelStore != nil { throw ValidationError("give --model or --model-store, not both") }
        guard modelStorePoll > 0 else { throw ValidationError("--model-store-poll must be positive") }
        guard reloadTimeout > 0 else { throw ValidationError("--reload-timeout must be positive") }
        guard (0...1).contains(captureRate) else { throw ValidationError("--capture-rate must be in [0, 1]") }
        guard captureMaxBytes >= 1 << 20 else { throw ValidationError("--capture-max-bytes must be at least 1 MiB") }
    }

    func run() throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "rerankd")
        logger.logLevel = Logger.Level(rawValue: logLevel)!
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(Self.metricsFactory(registry))
        logConfiguration(logger)
        // Scoring runs one sequence per core with single-threaded BLAS; set once, before any model loads.
        let blasThreads = CPUBudget.configureBLAS(threads: 1)
        logger.info("cores", metadata: ["workers": "\(CPUBudget.cores)", "blas_threads": "\(blasThreads)"])

        let store = modelStore.map { ModelStore(root: URL(fileURLWithPath: $0, isDirectory: true)) }
        // An empty store (nothing published yet, the directory perhaps not even made) is no error: the server
        // starts without a model, not ready, and serves the first version published. A broken `current` is one.
        let modelDirectory: String?
        let source: String
        var startVersion: String?
        if let store {
            startVersion = try store.currentVersion()
            modelDirectory = startVersion.map { store.directory(of: $0).path }
            source = "--model-store \(store.root.path)"
        } else {
            modelDirectory = try model ?? Self.embeddedDemoModel()
            source = model == nil ? "the embedded demo model" : "--model"
        }
        let promptTemplate: PromptTemplate
        do {
            promptTemplate = try templateFile.map { try PromptTemplate.load(from: URL(fileURLWithPath: $0)) }
                ?? PromptTemplate.preset(named: template)
        } catch {
            throw StartupFailure("\(templateFile == nil ? "--template" : "--template-file"): \(ErrorText.describe(error))")
        }
        var service = ServiceConfiguration()
        service.maxInputTokens = maxInputTokens
        service.maxDocuments = maxDocuments
        service.maxBatchTokens = maxBatchTokens
        service.maxBatchPairs = maxBatchPairs
        service.maxBatchDelay = maxBatchDelay
        service.maxQueuedTokens = maxQueuedTokens
        service.requestTimeout = requestTimeout
        service.tokenizerThreads = tokenizerThreads
        service.reloadTimeout = reloadTimeout

        var loaded: ActiveModel?
        if let modelDirectory {
            do {
                loaded = try ModelLoader.load(directory: modelDirectory, template: promptTemplate,
                                              maxInputTokens: maxInputTokens, precision: precision)
            } catch {
                throw StartupFailure("\(source): \(ErrorText.describe(error))")
            }
        }
        if let loaded {
            logger.info("model loaded", metadata: [
                "directory": "\(loaded.directory)", "sha256": "\(loaded.weightsSHA256)",
                "load_seconds": "\(String(format: "%.2f", loaded.loadSeconds))", "template": "\(promptTemplate.name)",
                "output": "\(loaded.scorer.model.config.outputRule)"])
        }
        let noModelMessage = store.map { store in
            "no model is published in the model store \(store.root.path) yet: publish one with "
                + "`rerank-admin publish DIR --store \(store.root.path)`; this server loads it within "
                + "--model-store-poll \(String(format: "%g", modelStorePoll)) s of the flip, without a restart"
        } ?? "no model is loaded yet"
        if let store, loaded == nil {
            let exists = FileManager.default.fileExists(atPath: store.root.path)
            logger.warning("\("model store \(store.root.path) has no current version yet" + (exists ? "" : " (the directory does not exist yet)")): /health answers 200, /ready and the rerank routes 503 until a version is published; checking every \(modelStorePoll) s")
        }
        let capture = captureDir.map { directory in
            var settings = RequestCapture.Settings(directory: URL(fileURLWithPath: directory, isDirectory: true),
                                                   rate: captureRate)
            settings.maxTotalBytes = captureMaxBytes
            settings.maxFileBytes = min(settings.maxFileBytes, max(captureMaxBytes / 8, 1 << 20))
            return RequestCapture(settings: settings, logger: logger)
        }
        if let capture {
            if let error = capture.status.error {
                // Capture is opt-in sampling: it never stops serving. /info and rerank_capture_active show it.
                logger.error("--capture-dir \(capture.settings.directory.path) cannot be used: \(error); serving without request capture, trying the directory again every \(Int(capture.settings.retryInterval)) s")
            } else {
                logger.notice("capturing \(captureRate * 100)% of requests (query and documents) into \(capture.settings.directory.path)")
            }
        }
        let rerank = RerankService(model: loaded, template: promptTemplate, precision: precision, configuration: service,
                                   logger: logger, capture: capture, noModelMessage: noModelMessage)

        let router = RerankRouter(
            service: rerank,
            configuration: APIConfiguration(
                apiKey: apiKey, adminToken: adminToken, version: Self.version,
                openAPIDocument: try Self.openAPIDocument(), maxBodyBytes: maxBodyBytes),
            logger: logger, metricsText: { registry.emitToString() })
        var http = HTTPServerConfiguration(host: host, port: port)
        http.eventLoops = CPUBudget.cores
        http.limits.maxBodyBytes = maxBodyBytes
        http.limits.maxConnections = maxConnections
        http.limits.maxConnectionBodyBytes = maxConnectionBodyBytes
        http.limits.maxBufferedBodyBytes = maxBufferedBodyBytes
        let server = HTTPServer(configuration: http, logger: logger, refusal: router.refusal, handler: router.handler)
        do { try server.start() } catch {
            throw StartupFailure("cannot listen on --host \(host) --port \(port): \(ErrorText.describe(error))")
        }
        logger.info("rerankd ready on http://\(host):\(server.boundPort) (HTTP/1.1 and h2c)")

        let signals = installSignalHandlers(server: server, service: rerank, modelDirectory: modelDirectory,
                                            store: store, logger: logger)
        let watcher = store.map { watch($0, from: startVersion, service: rerank, logger: logger) }
        withExtendedLifetime((signals, watcher)) { dispatchMain() }
    }

    /// Polls the store's `current`; a version other than `start` (the one loaded at start, nil for an empty store) is
    /// hot-swapped in with the zero-drop reload, the first one published to an empty store included. A version that
    /// fails to load is not retried until `current` changes again (the failure is in /info, metrics, logs).
    private func watch(_ store: ModelStore, from start: String?, service: RerankService, logger: Logger)
        -> DispatchSourceTimer
    {
        let seen = Mutex(start)
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + modelStorePoll, repeating: modelStorePoll)
        timer.setEventHandler {
            let version: String?
            do { version = try store.currentVersion() } catch {
                logger.error("model store unreadable", metadata: ["store": "\(store.root.path)", "error": "\(error)"])
                return
            }
            guard let version, seen.withLock({ $0 != version }) else { return }
            seen.withLock { $0 = version }
            logger.info("model store flipped: loading version \(version)")
            service.reload(directory: store.directory(of: version).path) { _ in }
        }
        timer.resume()
        return timer
    }

    private func installSignalHandlers(server: HTTPServer, service: RerankService, modelDirectory: String?,
                                       store: ModelStore?, logger: Logger) -> [DispatchSourceSignal] {
        var sources: [DispatchSourceSignal] = []
        let drain = drainTimeout
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                logger.info("shutting down: draining for up to \(drain) s")
                server.shutdown(drainTimeout: .milliseconds(Int(drain * 1000)))
                service.drain()
                logger.info("stopped")
                Foundation.exit(0)
            }
            source.resume()
            sources.append(source)
        }
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        hangup.setEventHandler {
            guard let directory = (try? store?.currentDirectory().path) ?? service.model?.directory ?? modelDirectory else {
                return logger.notice("SIGHUP: nothing to reload: \(service.noModelMessage)")
            }
            logger.info("SIGHUP: reloading the model from \(directory)")
            service.reload(directory: directory) { _ in }
        }
        hangup.resume()
        sources.append(hangup)
        return sources
    }

    private func logConfiguration(_ logger: Logger) {
        let secret = { (value: String?) in value == nil ? "unset" : "set" }
        logger.info("configuration", metadata: [
            "host": "\(host)", "port": "\(port)",
            "model": "\(model ?? (modelStore.map { "store \($0)" } ?? "embedded demo"))",
            "capture_dir": "\(captureDir ?? "off")",
            "template": "\(templateFile ?? template)", "admin_token": "\(secret(adminToken))",
            "api_key": "\(secret(apiKey))", "max_input_tokens": "\(maxInputTokens)",
            "precision": "\(precision == .int8 ? "int8, \(T5Model.int8Description)" : "fp32")",
            "kernels": "\(T5Model.kernelISA)",
            "max_documents": "\(maxDocuments)", "max_batch_tokens": "\(maxBatchTokens)",
            "max_batch_pairs": "\(maxBatchPairs)", "max_batch_delay": "\(maxBatchDelay)",
            "max_queued_tokens": "\(maxQueuedTokens)", "request_timeout": "\(requestTimeout)",
            "tokenizer_threads": "\(tokenizerThreads)", "max_body_bytes": "\(maxBodyBytes)",
            "max_connection_body_bytes": "\(maxConnectionBodyBytes)",
            "max_buffered_body_bytes": "\(maxBufferedBodyBytes)",
            "max_connections": "\(maxConnections)", "drain_timeout": "\(drainTimeout)",
        ])
    }

    static func embeddedDemoModel() throws -> String {
        guard let url = Bundle.module.url(forResource: "demo-model", withExtension: nil) else {
            throw StartupFailure("the embedded demo model (rerank_rerankd.resources/demo-model) is missing beside the "
                + "binary: install the resources directory with it, or pass --model DIR")
        }
        return url.path
    }

    static func openAPIDocument() throws -> [UInt8] {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml") else {
            throw StartupFailure("openapi.yaml (rerank_rerankd.resources/openapi.yaml) is missing beside the binary: "
                + "install the resources directory with it")
        }
        do { return Array(try Data(contentsOf: url)) } catch { throw StartupFailure(ErrorText.describe(error)) }
    }

    static func metricsFactory(_ registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
        ]
        factory.valueHistogramBuckets = [
            "rerank_batch_size": [1, 2, 4, 8, 16, 32, 64, 128, 256],
            "rerank_batch_tokens": [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768],
        ]
        return factory
    }
}

/// A failure to start (a flag's file, the model, the port): printed as `Error: ...` without usage text, exit 1.
struct StartupFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
