import Foundation

/// RankNet on a teacher's order, as the Instruction Distillation code trains the student: for every pair
/// (i, j) with i ahead of j among the teacher's top m, log(1 + exp(-(s_i - s_j))); the loss is the mean over
/// every such pair of the batch.
public enum RankNet {
    /// One query's part of a batch: its student scores and the teacher's order (indices into `scores`,
    /// best first), of which the first `topM` count.
    public struct Query {
        public var scores: [Float]
        public var teacherOrder: [Int]
        public var topM: Int

        public init(scores: [Float], teacherOrder: [Int], topM: Int) {
            self.scores = scores
            self.teacherOrder = teacherOrder
            self.topM = topM
        }

        var ranked: ArraySlice<Int> { teacherOrder.prefix(topM) }
        var pairCount: Int { ranked.count * (ranked.count - 1) / 2 }
    }

    /// The mean loss over the batch's pairs and d(loss)/d(score) for every query's scores.
    public static func loss(_ batch: [Query]) -> (loss: Double, dScores: [[Float]]) {
        let pairs = batch.map(\.pairCount).reduce(0, +)
        var total = 0.0
        var gradients = batch.map { [Float](repeating: 0, count: $0.scores.count) }
        guard pairs > 0 else { return (0, gradients) }
        for (q, query) in batch.enumerated() {
            let ranked = Array(query.ranked)
            for a in ranked.indices {
                for b in ranked.indices where b > a {
                    let (i, j) = (ranked[a], ranked[b])
                    let margin = Double(query.scores[i]) - Double(query.scores[j])
                    total += softplus(-margin)
                    // d softplus(-m) / dm = -sigmoid(-m)
                    let slope = Float(-sigmoid(-margin) / Double(pairs))
                    gradients[q][i] += slope
                    gradients[q][j] -= slope
                }
            }
        }
        return (total / Double(pairs), gradients)
    }

    static func softplus(_ x: Double) -> Double { x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)) }
    static func sigmoid(_ x: Double) -> Double { x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)) }
}
