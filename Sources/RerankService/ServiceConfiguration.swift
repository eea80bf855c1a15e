/// Batching and admission limits of the rerank service.
public struct ServiceConfiguration: Sendable, Equatable {
    /// Most prompt tokens in one model batch (sum of prompt lengths; the core does not pad).
    public var maxBatchTokens: Int = 8192
    /// Most (query, document) pairs in one model batch.
    public var maxBatchPairs: Int = 64
    /// How long the batcher may wait for a fuller batch once the core is free, in seconds (0: never waits).
    public var maxBatchDelay: Double = 0
    /// A request is refused with `overloaded` when the queue already holds more prompt tokens than this.
    public var maxQueuedTokens: Int = 262_144
    /// Most documents in one request.
    public var maxDocuments: Int = 1000
    /// Token budget of one prompt; only the document is cut to fit.
    public var maxInputTokens: Int = 512
    /// Seconds a request may wait and run before it is dropped (0: no deadline).
    public var requestTimeout: Double = 60
    /// Threads that tokenize incoming requests while the core runs.
    public var tokenizerThreads: Int = 1
    /// Seconds a reload may take before it is reported as failed and the next reload may start (a file on a
    /// stalled volume can block a read forever; the reload queue must not wait on it).
    public var reloadTimeout: Double = 300

    public init() {}
}
