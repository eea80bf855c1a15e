import DequeModule
import Dispatch
import Foundation
import Logging
import Metrics
import Ranking
import T5

/// The middle of the server: one queue of (query, document) pairs across all requests, and one
/// batcher thread that feeds the inference core. Knows nothing of HTTP. Unchecked Sendable: the queue and
/// every counter are guarded by `lock` (a condition the batcher thread waits on), the rest is immutable.
///
/// It may start without a model (a model store nothing was published to yet): it then refuses requests as
/// unavailable, saying `noModelMessage`, until a reload brings the first one.
public final class RerankService: @unchecked Sendable {
    public let configuration: ServiceConfiguration
    /// The prompt template and precision every model this service loads runs with.
    public let template: PromptTemplate
    public let precision: T5Model.Precision
    /// Why requests are refused while there is no model (e.g. which store nothing was published to).
    public let noModelMessage: String
    private let logger: Logger
    private let lock = NSCondition()
    private var queue = Deque<PendingPair>()
    private var queuedTokens = 0
    /// Requests admitted but not yet tokenized, and an upper estimate of their tokens: admission counts
    /// them too, so a burst of large requests meets 429 before it is tokenized.
    private var pendingSubmissions = 0
    private var pendingTokens = 0
    /// Nil until the first model loads.
    private var active: ActiveModel?
    private var draining = false
    private var stopped = false
    private var batchCounter = 0
    private let tokenizers: OperationQueue
    private let completions = DispatchQueue(label: "rerank.completions", attributes: .concurrent)
    private let reloads = DispatchQueue(label: "rerank.reload")
    private let metrics = ServiceMetrics()
    private var batcher: Thread?
    private var reloadFailure: ReloadFailure?
    private let capture: RequestCapture?

    /// Serves `model`, with its template and precision.
    /// - Parameter capture: samples admitted requests for retraining (opt-in; nil captures nothing).
    public convenience init(model: ActiveModel, configuration: ServiceConfiguration, logger: Logger,
                            capture: RequestCapture? = nil) {
        self.init(model: model, template: model.scorer.template, precision: model.scorer.model.precision,
                  configuration: configuration, logger: logger, capture: capture)
    }

    /// Serves `model`, or starts without one (nil) and refuses requests with `noModelMessage` until a reload loads
    /// the first; every model loaded runs `template` in `precision`.
    /// - Parameter capture: samples admitted requests for retraining (opt-in; nil captures nothing).
    public init(model: ActiveModel?, template: PromptTemplate, precision: T5Model.Precision,
                configuration: ServiceConfiguration, logger: Logger, capture: RequestCapture? = nil,
                noModelMessage: String = "no model is loaded yet") {
        self.active = model
        self.template = template
        self.precision = precision
        self.noModelMessage = noModelMessage
        self.capture = capture
        self.configuration = configuration
        self.logger = logger
        tokenizers = OperationQueue()
        tokenizers.name = "rerank.tokenize"
        tokenizers.maxConcurrentOperationCount = max(1, configuration.tokenizerThreads)
        // The thread keeps the service alive until `drain()` stops it.
        let thread = Thread { self.runBatches() }
        thread.name = "rerank.batcher"
        thread.qualityOfService = .userInteractive
        batcher = thread
        thread.start()
        if let model { metrics.modelActive(model) } else { metrics.noModel() }
    }

    /// The model that new requests are scored with; nil until the first one loads.
    public var model: ActiveModel? {
        lock.lock(); defer { lock.unlock() }
        return active
    }

    /// What the service is doing, as /ready and /info report it.
    public enum State: String, Sendable {
        /// A model is loaded and requests are taken.
        case serving
        /// No model has loaded yet: requests are refused with `noModelMessage`.
        case noModel = "no_model"
        /// Shutting down: new requests are refused.
        case draining
    }

    public var state: State {
        lock.lock(); defer { lock.unlock() }
        return draining ? .draining : active == nil ? .noModel : .serving
    }

    /// Why requests are refused while there is no model: `noModelMessage`, or, once a model failed to load, that
    /// failure (the store is no longer empty; what was published does not load).
    public var noModelReason: String {
        lock.lock(); defer { lock.unlock() }
        return noModelReasonLocked
    }

    private var noModelReasonLocked: String {
        guard let reloadFailure else { return noModelMessage }
        return "no model is loaded: \(reloadFailure.message); publish one that loads, or roll back"
    }

    /// The request capture's state; nil when capture is off.
    public var captureStatus: RequestCapture.Status? { capture?.status }

    /// The last reload that failed, cleared by the next one that succeeds.
    public var lastReloadFailure: ReloadFailure? {
        lock.lock(); defer { lock.unlock() }
        return reloadFailure
    }

    /// True while the service takes new requests: a model is loaded and it is not draining.
    public var isAccepting: Bool { state == .serving }

    /// Pairs and prompt tokens waiting for the core.
    public var queueDepth: (pairs: Int, tokens: Int) {
        lock.lock(); defer { lock.unlock() }
        return (queue.count, queuedTokens)
    }

    /// Makes `model` the one new requests use. Pairs already queued finish on the model that
    /// tokenized them; the old model is freed once its last pair is scored.
    public func replaceModel(with model: ActiveModel) {
        lock.lock()
        active = model
        lock.unlock()
        metrics.modelActive(model)
    }

    /// How a reload reads a checkpoint; tests replace it to simulate a load that never ends.
    var loadModel: @Sendable (_ directory: String, _ template: PromptTemplate, _ maxInputTokens: Int,
                              _ precision: T5Model.Precision) throws -> ActiveModel = {
        try ModelLoader.load(directory: $0, template: $1, maxInputTokens: $2, precision: $3)
    }

    /// Loads `directory` (the active model's directory when nil) off the serving path, validates it,
    /// and swaps it in. A model that fails to load, or takes longer than `reloadTimeout`, is reported and the
    /// active one (if any) keeps serving. Reloads run one at a time, in order.
    public func reload(directory: String? = nil, completion: @escaping @Sendable (Result<ActiveModel, Error>) -> Void) {
        reloads.async { [self] in
            guard let target = directory ?? model?.directory else {
                return completion(.failure(NothingToReload(reason: noModelMessage)))
            }
            logger.info("loading model", metadata: ["directory": "\(target)"])
            switch loadWithDeadline(target, template: template, precision: precision) {
            case let .success(loaded):
                replaceModel(with: loaded)
                lock.withLock { reloadFailure = nil }
                metrics.reloaded(succeeded: true)
                logger.info("model swapped in", metadata: [
                    "directory": "\(loaded.directory)", "sha256": "\(loaded.weightsSHA256)",
                    "load_seconds": "\(loaded.loadSeconds)",
                    "output": "\(loaded.scorer.model.config.outputRule)"])
                completion(.success(loaded))
            case let .failure(error):
                lock.withLock { reloadFailure = ReloadFailure(directory: target, message: "\(error)", at: Date()) }
                metrics.reloaded(succeeded: false)
                logger.error(model == nil ? "model load failed; still no model to serve"
                                 : "model reload failed; the active model keeps serving", metadata: [
                    "directory": "\(target)", "error": "\(error)"])
                completion(.failure(error))
            }
        }
    }

    /// Runs the load on a thread of its own and waits for it at most `reloadTimeout` seconds. A load past the
    /// deadline is abandoned (its thread may stay blocked in the kernel; its result, if any, is dropped), so
    /// the reloads queued behind it still run.
    private func loadWithDeadline(_ directory: String, template: PromptTemplate, precision: T5Model.Precision)
        -> Result<ActiveModel, Error>
    {
        /// Written by the load thread before `finished` is signalled, read only after a successful wait.
        final class Outcome: @unchecked Sendable { var result: Result<ActiveModel, Error>? }
        let outcome = Outcome()
        let finished = DispatchSemaphore(value: 0)
        let load = loadModel
        let maxInputTokens = configuration.maxInputTokens
        let thread = Thread {
            let result = Result { try load(directory, template, maxInputTokens, precision) }
            outcome.result = result
            finished.signal()
        }
        thread.name = "rerank.load"
        thread.start()
        let seconds = configuration.reloadTimeout
        guard finished.wait(timeout: .now() + seconds) == .success else {
            return .failure(ModelLoadError.invalid(
                directory: directory, reason: "loading did not finish within \(seconds) s (--reload-timeout); "
                    + "a file on a stalled volume, or one still being written?"))
        }
        return outcome.result!
    }

    /// Validates, tokenizes and enqueues a request; `completion` runs once, on another thread.
    /// Throws right away for a request that is refused before it costs anything.
    @discardableResult
    public func submit(_ input: RerankInput, completion: @escaping @Sendable (Result<RerankOutput, RerankError>) -> Void)
        throws(RerankError) -> RerankTicket
    {
        if input.query.unicodeScalars.allSatisfy(\.properties.isWhitespace) {
            throw .empty("query must not be empty")
        }
        if input.documents.isEmpty { throw .empty("documents must not be empty") }
        if input.documents.count > configuration.maxDocuments {
            throw .validation("\(input.documents.count) documents is over the limit of \(configuration.maxDocuments)")
        }
        if let cap = input.maxTokensPerDocument, cap < 1 {
            throw .validation("max_tokens_per_doc must be at least 1")
        }
        let estimate = estimatedTokens(input)
        // The draining check and the admission are one step, so drain() waits for every admitted request.
        lock.lock()
        if draining {
            lock.unlock()
            throw .unavailable("the server is shutting down")
        }
        guard let model = active else {
            let reason = noModelReasonLocked
            lock.unlock()
            throw .unavailable(reason)
        }
        if queuedTokens + pendingTokens > configuration.maxQueuedTokens {
            lock.unlock()
            metrics.rejected()
            throw .overloaded(retryAfterSeconds: retryAfter())
        }
        pendingSubmissions += 1
        pendingTokens += estimate
        lock.unlock()

        capture?.offer(query: input.query, documents: input.documents)
        let ticket = RerankTicket(service: self)
        let submittedAt = DispatchTime.now().uptimeNanoseconds
        let deadline = configuration.requestTimeout > 0
            ? submittedAt + UInt64(configuration.requestTimeout * 1e9) : nil
        tokenizers.addOperation { [self] in
            defer {
                lock.lock()
                pendingSubmissions -= 1
                pendingTokens -= estimate
                lock.broadcast()
                lock.unlock()
            }
            do {
                let (request, pairs) = try tokenize(input, model: model, deadline: deadline, since: submittedAt,
                                                    completion: completion)
                enqueue(request, pairs: pairs, ticket: ticket)
            } catch let error as RerankError {
                completions.async { completion(.failure(error)) }
            } catch {
                completions.async { completion(.failure(.validation("\(error)"))) }
            }
        }
        return ticket
    }

    /// An upper estimate of a request's prompt tokens before tokenizing it: a prompt never exceeds the
    /// budget, and SentencePiece rarely makes more than one token per two bytes of text.
    private func estimatedTokens(_ input: RerankInput) -> Int {
        let query = input.query.utf8.count / 2
        return input.documents.reduce(0) { total, document in
            total + min(configuration.maxInputTokens, query + document.utf8.count / 2 + 32)
        }
    }

    /// Stops taking requests; returns once every queued pair has been scored or dropped.
    public func drain() {
        lock.lock()
        draining = true
        lock.broadcast()
        // Every admitted request is tokenized and queued (or failed) before the batcher may stop.
        while pendingSubmissions > 0 { lock.wait() }
        stopped = true
        lock.broadcast()
        while batcher != nil { lock.wait() }
        lock.unlock()
        logger.info("rerank queue drained")
    }

    func cancel(_ ticket: RerankTicket) {
        lock.lock()
        ticket.cancelled = true
        ticket.request?.cancelled = true
        lock.unlock()
    }

    private func retryAfter() -> Int {
        // Roughly how long the current queue takes to clear, at least a second.
        let tokensPerSecond = metrics.recentTokensPerSecond
        guard tokensPerSecond > 0 else { return 1 }
        return max(1, Int((Double(queueDepth.tokens) / tokensPerSecond).rounded(.up)))
    }

    private func tokenize(_ input: RerankInput, model: ActiveModel, deadline: UInt64?, since start: UInt64,
                          completion: @escaping @Sendable (Result<RerankOutput, RerankError>) -> Void) throws
        -> (request: PendingRequest, pairs: [PendingPair])
    {
        var prompts: [[Int32]] = []
        prompts.reserveCapacity(input.documents.count)
        var truncated = 0
        var truncatedBy: [PassageLimit: Int] = [:]
        for (index, document) in input.documents.enumerated() {
            do {
                let prompt = try model.scorer.encoder.encode(
                    query: input.query, passage: document, truncate: input.truncate,
                    maxPassageTokens: input.maxTokensPerDocument)
                if prompt.truncated { truncated += 1 }
                for limit in prompt.cutBy { truncatedBy[limit, default: 0] += 1 }
                prompts.append(prompt.ids)
            } catch let error as PromptEncodingError {
                switch error {
                case .queryTooLong: throw RerankError.validation("query is too long: \(error)")
                case .passageTooLong, .passageOverWordLimit:
                    throw RerankError.validation("document \(index) is too long: \(error)")
                }
            }
        }
        let now = DispatchTime.now().uptimeNanoseconds
        let request = PendingRequest(
            model: model, documents: prompts.count, deadline: deadline, enqueuedAt: now,
            tokenizationSeconds: Double(now - start) / 1e9, truncatedDocuments: truncated, truncatedBy: truncatedBy,
            promptTokens: prompts.reduce(0) { $0 + $1.count }, completion: completion)
        let pairs = prompts.enumerated().map { PendingPair(request: request, index: $0.offset, ids: $0.element) }
        return (request, pairs)
    }

    private func enqueue(_ request: PendingRequest, pairs: [PendingPair], ticket: RerankTicket) {
        lock.lock()
        if ticket.cancelled {
            lock.unlock()
            completions.async { request.completion(.failure(.cancelled)) }
            return
        }
        ticket.request = request
        queue.append(contentsOf: pairs)
        queuedTokens += request.promptTokens
        metrics.queueChanged(pairs: queue.count, tokens: queuedTokens)
        lock.signal()
        lock.unlock()
    }

    // MARK: - The batcher

    private func runBatches() {
        while let batch = nextBatch() {
            run(batch)
        }
        lock.lock()
        batcher = nil
        lock.broadcast()
        lock.unlock()
    }

    /// Waits for work, then cuts the next batch: FIFO up to the token and pair budgets, pairs of
    /// one model only, skipping requests that were cancelled or timed out. Nil once stopped.
    private func nextBatch() -> [PendingPair]? {
        lock.lock()
        defer { lock.unlock() }
        while true {
            while queue.isEmpty {
                if stopped { return nil }
                lock.wait()
            }
            if configuration.maxBatchDelay > 0, let oldest = queue.first {
                let until = Date(timeIntervalSinceNow: configuration.maxBatchDelay
                    - Double(DispatchTime.now().uptimeNanoseconds - oldest.request.enqueuedAt) / 1e9)
                while queuedTokens < configuration.maxBatchTokens, queue.count < configuration.maxBatchPairs,
                      !stopped, lock.wait(until: until) {}
            }
            let now = DispatchTime.now().uptimeNanoseconds
            var batch: [PendingPair] = []
            var tokens = 0
            var dropped: [(PendingRequest, RerankError)] = []
            while let pair = queue.first {
                if let reason = pair.request.abandonment(now: now) {
                    queue.removeFirst()
                    queuedTokens -= pair.ids.count
                    if !pair.request.finished {
                        pair.request.finished = true
                        dropped.append((pair.request, reason))
                    }
                    continue
                }
                if let first = batch.first, first.request.model !== pair.request.model { break }
                if !batch.isEmpty, tokens + pair.ids.count > configuration.maxBatchTokens
                    || batch.count >= configuration.maxBatchPairs { break }
                queue.removeFirst()
                queuedTokens -= pair.ids.count
                tokens += pair.ids.count
                batch.append(pair)
                if pair.request.firstBatchAt == nil { pair.request.firstBatchAt = now }
            }
            metrics.queueChanged(pairs: queue.count, tokens: queuedTokens)
            for (request, reason) in dropped {
                metrics.dropped(reason)
                completions.async { request.completion(.failure(reason)) }
            }
            if !batch.isEmpty { return batch }
        }
    }

    private func run(_ batch: [PendingPair]) {
        // Similar lengths side by side: the core splits batches between threads by position.
        let ordered = batch.sorted { $0.ids.count > $1.ids.count }
        let scorer = ordered[0].request.model.scorer
        let start = DispatchTime.now().uptimeNanoseconds
        let scores: [Float]
        do {
            scores = try scorer.rawScores(ordered.map(\.ids))
        } catch {
            // Unreachable while the tokenizer is checked against vocab_size at load; never fatal.
            logger.error("batch refused by the model", metadata: ["error": "\(error)"])
            return fail(ordered, .backend("the model refused the batch: \(error)"))
        }
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        let tokens = ordered.reduce(0) { $0 + $1.ids.count }
        metrics.batchRan(pairs: ordered.count, tokens: tokens, nanoseconds: elapsed)

        var done: [PendingRequest] = []
        lock.lock()
        batchCounter += 1
        var failed: [(PendingRequest, RerankError)] = []
        for (pair, score) in zip(ordered, scores) {
            let request = pair.request
            // A NaN or infinity cannot be encoded as JSON and ranks nothing: the model is broken for this input.
            if !score.isFinite, !request.finished {
                request.finished = true
                failed.append((request, .backend("the model produced a non-finite score (\(score)) for document \(pair.index)")))
            }
            request.scores[pair.index] = score
            request.remaining -= 1
            if request.lastBatch != batchCounter {
                request.lastBatch = batchCounter
                request.inferenceNanoseconds += elapsed
            }
            if request.remaining == 0, !request.finished {
                request.finished = true
                done.append(request)
            }
        }
        lock.unlock()
        for (request, error) in failed {
            logger.error("request failed", metadata: ["error": "\(error)"])
            completions.async { request.completion(.failure(error)) }
        }
        for request in done {
            let output = request.output()
            metrics.requestScored(output)
            completions.async { request.completion(.success(output)) }
        }
    }

    /// Fails every request with a pair in `batch` (once each); their other pairs are then skipped.
    private func fail(_ batch: [PendingPair], _ error: RerankError) {
        var failed: [PendingRequest] = []
        lock.lock()
        for pair in batch where !pair.request.finished {
            pair.request.finished = true
            failed.append(pair.request)
        }
        lock.unlock()
        for request in failed { completions.async { request.completion(.failure(error)) } }
    }
}

/// A reload without a directory while no model is loaded: there is no active directory to load again.
public struct NothingToReload: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { "nothing to reload: \(reason); give a model directory" }
}

/// A model directory that could not be swapped in, and why.
public struct ReloadFailure: Sendable, Equatable {
    public let directory: String
    public let message: String
    public let at: Date
}
