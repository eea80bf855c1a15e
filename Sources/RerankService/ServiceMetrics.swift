import Dispatch
import Foundation
import Metrics
import Synchronization

/// The service's metrics, through the swift-metrics API (the server picks the backend).
final class ServiceMetrics: Sendable {
    private let queueDuration = Metrics.Timer(label: "rerank_queue_duration_seconds")
    private let inferenceDuration = Metrics.Timer(label: "rerank_inference_duration_seconds")
    private let tokenizationDuration = Metrics.Timer(label: "rerank_tokenization_duration_seconds")
    private let batchSize = Recorder(label: "rerank_batch_size")
    private let batchTokens = Recorder(label: "rerank_batch_tokens")
    private let batchDuration = Metrics.Timer(label: "rerank_batch_duration_seconds")
    private let queuePairs = Gauge(label: "rerank_queue_pairs")
    private let queueTokens = Gauge(label: "rerank_queue_tokens")
    private let documents = Counter(label: "rerank_documents_total")
    private let truncated = Counter(label: "rerank_truncated_documents_total")
    private let rejectedRequests = Counter(label: "rerank_rejected_requests_total")
    private let droppedTimedOut = Counter(label: "rerank_dropped_requests_total", dimensions: [("reason", "timeout")])
    private let droppedCancelled = Counter(label: "rerank_dropped_requests_total", dimensions: [("reason", "cancelled")])

    private let reloadsSucceeded = Counter(label: "rerank_model_reloads_total", dimensions: [("result", "ok")])
    private let reloadsFailed = Counter(label: "rerank_model_reloads_total", dimensions: [("result", "failed")])

    private let modelInfo = Mutex<Gauge?>(nil)
    private let modelLoaded = Gauge(label: "rerank_model_loaded")
    private let throughput = Mutex<(tokens: Int, nanoseconds: UInt64)>((0, 0))

    /// Prompt tokens per second over the recent batches (an exponentially weighted window).
    var recentTokensPerSecond: Double {
        let (tokens, nanoseconds) = throughput.withLock { $0 }
        return nanoseconds == 0 ? 0 : Double(tokens) / (Double(nanoseconds) / 1e9)
    }

    func reloaded(succeeded: Bool) {
        (succeeded ? reloadsSucceeded : reloadsFailed).increment()
    }

    func queueChanged(pairs: Int, tokens: Int) {
        queuePairs.record(pairs)
        queueTokens.record(tokens)
    }

    func batchRan(pairs: Int, tokens: Int, nanoseconds: UInt64) {
        batchSize.record(pairs)
        batchTokens.record(tokens)
        batchDuration.recordNanoseconds(Int64(nanoseconds))
        throughput.withLock { $0 = ($0.tokens * 3 / 4 + tokens, $0.nanoseconds * 3 / 4 + nanoseconds) }
    }

    func requestScored(_ output: RerankOutput) {
        queueDuration.recordSeconds(output.queueSeconds)
        inferenceDuration.recordSeconds(output.inferenceSeconds)
        tokenizationDuration.recordSeconds(output.tokenizationSeconds)
        documents.increment(by: output.rawScores.count)
        if output.truncatedDocuments > 0 { truncated.increment(by: output.truncatedDocuments) }
        for (limit, count) in output.truncatedBy {
            Counter(label: "rerank_passage_cuts_total", dimensions: [("limit", limit.rawValue)]).increment(by: count)
        }
    }

    /// `rerank_model_loaded 0`: no model yet (an empty model store); requests are refused.
    func noModel() { modelLoaded.record(0) }

    /// `rerank_model_info{name, sha256, template} 1` for the active model; the previous one drops to 0.
    /// `rerank_model_loaded 1`.
    func modelActive(_ model: ActiveModel) {
        modelLoaded.record(1)
        let gauge = Gauge(label: "rerank_model_info", dimensions: [
            ("name", model.name), ("sha256", model.weightsSHA256), ("template", model.scorer.template.name)])
        let previous = modelInfo.withLock { info in
            defer { info = gauge }
            return info
        }
        previous?.record(0)
        gauge.record(1)
    }

    func rejected() { rejectedRequests.increment() }

    func dropped(_ reason: RerankError) {
        (reason == .timedOut ? droppedTimedOut : droppedCancelled).increment()
    }
}
