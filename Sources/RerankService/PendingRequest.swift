import Dispatch
import Ranking

/// Book-keeping for one submitted request while its pairs wait and run. Unchecked Sendable: every
/// mutable field is read and written only under the service lock.
final class PendingRequest: @unchecked Sendable {
    let model: ActiveModel
    let deadline: UInt64?
    let enqueuedAt: UInt64
    let tokenizationSeconds: Double
    let truncatedDocuments: Int
    let truncatedBy: [PassageLimit: Int]
    let promptTokens: Int
    let completion: @Sendable (Result<RerankOutput, RerankError>) -> Void
    var scores: [Float]
    var remaining: Int
    var firstBatchAt: UInt64?
    var inferenceNanoseconds: UInt64 = 0
    var lastBatch = -1
    var cancelled = false
    var finished = false

    init(model: ActiveModel, documents: Int, deadline: UInt64?, enqueuedAt: UInt64, tokenizationSeconds: Double,
         truncatedDocuments: Int, truncatedBy: [PassageLimit: Int], promptTokens: Int,
         completion: @escaping @Sendable (Result<RerankOutput, RerankError>) -> Void) {
        self.model = model
        self.deadline = deadline
        self.enqueuedAt = enqueuedAt
        self.tokenizationSeconds = tokenizationSeconds
        self.truncatedDocuments = truncatedDocuments
        self.truncatedBy = truncatedBy
        self.promptTokens = promptTokens
        self.completion = completion
        self.scores = [Float](repeating: 0, count: documents)
        self.remaining = documents
    }

    /// Why the request should no longer cost compute, if it should not.
    func abandonment(now: UInt64) -> RerankError? {
        if cancelled || finished { return .cancelled }
        if let deadline, now >= deadline { return .timedOut }
        return nil
    }

    func output() -> RerankOutput {
        let rule = model.scorer.template.rule
        let queued = (firstBatchAt ?? enqueuedAt) - enqueuedAt
        return RerankOutput(
            rawScores: scores, probabilities: scores.map(rule.probability(rawScore:)),
            truncatedDocuments: truncatedDocuments, truncatedBy: truncatedBy, promptTokens: promptTokens,
            tokenizationSeconds: tokenizationSeconds, queueSeconds: Double(queued) / 1e9,
            inferenceSeconds: Double(inferenceNanoseconds) / 1e9, template: model.scorer.template.name,
            model: model.name)
    }
}

/// One (query, document) prompt waiting for the core.
struct PendingPair {
    let request: PendingRequest
    let index: Int
    let ids: [Int32]
}

/// Cancels a submitted request: its waiting pairs are dropped before they cost compute.
/// Unchecked Sendable: its state is read and written only under the service lock.
public final class RerankTicket: @unchecked Sendable {
    private weak var service: RerankService?
    var request: PendingRequest?
    var cancelled = false

    init(service: RerankService) { self.service = service }

    public func cancel() {
        service?.cancel(self)
    }
}
