import ArgumentParser
import Foundation
import Retrieval

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a TREC run against relevance judgments (nDCG@1/5/10, MAP@100, recall@100).",
        discussion: """
            Prints one JSON object with ndcg@1, ndcg@5, ndcg@10, map@100, recall@100 and the number of \
            queries evaluated. Conventions are trec_eval's (equal to pytrec_eval): documents ordered by score, \
            ties by docid descending, the rank column ignored; grades above 0 are relevant; the mean is over \
            the queries that are both judged and in the run. Qrels are TREC ('qid 0 docid grade') or BEIR TSV \
            ('query-id corpus-id score' with its header). Any run in TREC format works, from the built-in \
            first stage or from your own engine (Elasticsearch, OpenSearch, Anserini, Vespa).
            """)

    @Option(name: .customLong("run"), help: ArgumentHelp("TREC run: qid Q0 docid rank score tag.", valueName: "file"))
    var runFile: String
    @Option(help: ArgumentHelp("Relevance judgments, TREC or BEIR TSV.", valueName: "file")) var qrels: String
    @Flag(help: "Also print one JSON line per query (before the summary).") var perQuery = false

    func run() throws {
        let ranked = try TRECRun.read(runFile)
        let judged = try Qrels.read(qrels)
        let metrics = RetrievalMetrics.perQuery(run: ranked, qrels: judged)
        if metrics.isEmpty {
            throw ValidationError("no query is both in the run and judged in the qrels: check the query ids")
        }
        func object(_ m: RetrievalMetrics, extra: [(String, String)]) -> String {
            let fields = extra + m.named.map { ($0.0, "\($0.1)") }
            return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
        }
        if perQuery {
            for qid in metrics.keys.sorted() {
                emit(object(metrics[qid]!, extra: [("qid", "\"\(qid)\"")]))
            }
        }
        emit(object(RetrievalMetrics.mean(metrics.values), extra: [("queries", "\(metrics.count)")]))
    }
}
