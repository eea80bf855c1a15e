import Foundation

/// The endpoint answers of one query that held neither A nor B among their top log-probabilities. Each
/// counts as a tie, so a query made of them would come out in its first-stage order, labelled as the
/// teacher's ranking: above `limit` (a fraction of the query's prompts) the query is refused.
public struct MissingAnswers: Sendable {
    public private(set) var count = 0
    /// What the first such answer held instead.
    public private(set) var example: String?

    public init() {}

    public mutating func add(_ answers: [CompletionsJudge.Answer]) {
        for case let reason? in answers.map(\.missing) {
            count += 1
            if example == nil { example = reason }
        }
    }

    /// Throws `TeacherError.missingAnswers` when more than `limit` of `prompts` answers were missing.
    public func check(qid: String, prompts: Int, limit: Double) throws {
        guard Double(count) > limit * Double(prompts) else { return }
        throw TeacherError.missingAnswers(qid: qid, missing: count, prompts: prompts, limit: limit, example: example ?? "")
    }
}
