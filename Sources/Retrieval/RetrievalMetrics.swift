import Foundation

/// Ranking metrics with trec_eval's conventions (and so pytrec_eval's): documents ordered by score then
/// docid descending; a grade above 0 is relevant; nDCG gains are the grades with a log2(rank + 1)
/// discount and the ideal ranking from all judged documents; MAP and recall divide by every relevant
/// judged document, retrieved or not; means are over the queries that are both judged and in the run.
public struct RetrievalMetrics: Equatable, Sendable {
    public var ndcg1 = 0.0, ndcg5 = 0.0, ndcg10 = 0.0, map100 = 0.0, recall100 = 0.0

    public init() {}

    /// Metrics of one query's ranking (best first) against its judgments.
    public init(ranking: [String], grades: [String: Int]) {
        ndcg1 = Self.ndcg(ranking, grades, cutoff: 1)
        ndcg5 = Self.ndcg(ranking, grades, cutoff: 5)
        ndcg10 = Self.ndcg(ranking, grades, cutoff: 10)
        let relevant = grades.values.filter { $0 > 0 }.count
        guard relevant > 0 else { return }
        var found = 0
        var precisionSum = 0.0
        for (index, docid) in ranking.prefix(100).enumerated() where (grades[docid] ?? 0) > 0 {
            found += 1
            precisionSum += Double(found) / Double(index + 1)
        }
        map100 = precisionSum / Double(relevant)
        recall100 = Double(found) / Double(relevant)
    }

    static func ndcg(_ ranking: [String], _ grades: [String: Int], cutoff: Int) -> Double {
        func dcg(_ gains: some Sequence<Int>) -> Double {
            gains.enumerated().reduce(0) { $0 + Double($1.element) / log2(Double($1.offset + 2)) }
        }
        let ideal = dcg(grades.values.filter { $0 > 0 }.sorted(by: >).prefix(cutoff))
        guard ideal > 0 else { return 0 }
        return dcg(ranking.prefix(cutoff).map { max(grades[$0] ?? 0, 0) }) / ideal
    }

    /// Per-query metrics for every query judged in `qrels` and present in `run`, by query id.
    public static func perQuery(run: TRECRun, qrels: Qrels) -> [String: RetrievalMetrics] {
        var result: [String: RetrievalMetrics] = [:]
        for (qid, grades) in qrels.grades where run.scores[qid] != nil {
            result[qid] = RetrievalMetrics(ranking: run.ranking(qid), grades: grades)
        }
        return result
    }

    /// The mean of `metrics` (all zero when empty).
    public static func mean(_ metrics: some Collection<RetrievalMetrics>) -> RetrievalMetrics {
        var sum = RetrievalMetrics()
        for m in metrics {
            sum.ndcg1 += m.ndcg1; sum.ndcg5 += m.ndcg5; sum.ndcg10 += m.ndcg10
            sum.map100 += m.map100; sum.recall100 += m.recall100
        }
        let n = Double(max(metrics.count, 1))
        sum.ndcg1 /= n; sum.ndcg5 /= n; sum.ndcg10 /= n; sum.map100 /= n; sum.recall100 /= n
        return sum
    }

    /// The measures by their names in the command-line contract.
    public var named: [(String, Double)] {
        [("ndcg@1", ndcg1), ("ndcg@5", ndcg5), ("ndcg@10", ndcg10), ("map@100", map100), ("recall@100", recall100)]
    }
}
