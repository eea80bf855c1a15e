import ArgumentParser
import Foundation
import Ranking
import Retrieval
import Teacher

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a TREC run: nDCG@1/5/10, MAP@100, recall@100 against qrels, Kendall tau against a teacher.",
        discussion: """
            Prints one JSON object with ndcg@1, ndcg@5, ndcg@10, map@100, recall@100 and the number of \
            queries evaluated. Conventions are trec_eval's (equal to pytrec_eval): documents ordered by score, \
            ties by docid descending, the rank column ignored; grades above 0 are relevant; the mean is over \
            the queries that are both judged and in the run. Qrels are TREC ('qid 0 docid grade') or BEIR TSV \
            ('query-id corpus-id score' with its header). Any run in TREC format works, from the built-in \
            first stage or from your own engine (Elasticsearch, OpenSearch, Anserini, Vespa).

            --teacher adds kendall_tau: the mean over queries of Kendall's tau-b between the teacher's \
            ranking (a `teacher` output) and the run's scores, over the teacher's documents the run scored.

            --model reranks the run first: the top --top-k documents of each query are scored with the \
            pointwise model (texts from --corpus and --queries), the metrics are those of the reranked run, \
            and "first_stage" holds the run's own for comparison; --output keeps the reranked run.
            """)

    @Option(name: .customLong("run"), help: ArgumentHelp("TREC run: qid Q0 docid rank score tag.", valueName: "file"))
    var runFile: String
    @Option(help: ArgumentHelp("Relevance judgments, TREC or BEIR TSV.", valueName: "file")) var qrels: String?
    @Option(help: ArgumentHelp("Teacher output (JSON lines) to compare rankings with (Kendall tau).", valueName: "file"))
    var teacher: String?
    @Flag(help: "Also print one JSON line per query (before the summary).") var perQuery = false
    @Option(help: ArgumentHelp("Rerank the run with this pointwise checkpoint first.", valueName: "dir"))
    var model: String?
    @Option(help: ArgumentHelp("Prompt template of --model.", valueName: "name"))
    var template: String = PromptTemplate.instructDistill.name
    @Option(help: ArgumentHelp("BEIR corpus JSON lines (with --model).", valueName: "file")) var corpus: String?
    @Option(help: ArgumentHelp("Queries, JSON lines or TSV (with --model).", valueName: "file")) var queries: String?
    @Option(help: "Documents reranked per query (with --model).") var topK = 100
    @Option(help: ArgumentHelp("Write the reranked run here (with --model).", valueName: "file")) var output: String?
    @Flag(help: "No progress output.") var quiet = false

    /// Checked when the command runs (not in validate()), so a wrong value exits 64 without the usage screen.
    func checkFlags() throws {
        guard qrels != nil || teacher != nil else { throw CommandFailure.usage("give --qrels, --teacher or both") }
        if model != nil, corpus == nil || queries == nil {
            throw CommandFailure.usage("--model needs --corpus and --queries for the texts")
        }
        if model == nil, output != nil { throw CommandFailure.usage("--output is the reranked run: it needs --model") }
        guard topK >= 1 else { throw CommandFailure.usage("--top-k must be at least 1") }
    }

    func run() throws {
        try checkFlags()
        let firstStage = try TRECRun.read(runFile)
        let ranked = try model.map { try rerank(firstStage, with: $0) } ?? firstStage
        var fields: [(String, String)] = []
        if let qrels {
            let judged = try Qrels.read(qrels)
            let metrics = RetrievalMetrics.perQuery(run: ranked, qrels: judged)
            if metrics.isEmpty {
                throw CommandFailure("no query is both in --run \(runFile) and judged in --qrels \(qrels): check the query ids")
            }
            if perQuery {
                for qid in metrics.keys.sorted() {
                    emit(object([("qid", json(qid))] + numbers(metrics[qid]!.named)))
                }
            }
            fields += [("queries", "\(metrics.count)")] + numbers(RetrievalMetrics.mean(inOrder(metrics)).named)
            if model != nil {
                let before = RetrievalMetrics.perQuery(run: firstStage, qrels: judged)
                fields.append(("first_stage", object(numbers(RetrievalMetrics.mean(inOrder(before)).named))))
            }
        }
        if let teacher {
            try requireReadableFile(teacher, flag: "--teacher")
            let records = try TeacherRecord.read(teacher).records
            let taus = kendallTauPerQuery(run: ranked, reference: Dictionary(
                records.map { ($0.qid, $0.ranking) }, uniquingKeysWith: { first, _ in first }))
            guard !taus.isEmpty else {
                throw CommandFailure("no query of --teacher \(teacher) has two or more documents --run \(runFile) scored: "
                    + "check the query and document ids")
            }
            fields += [("kendall_tau", "\(inOrder(taus).reduce(0, +) / Double(taus.count))"),
                       ("kendall_queries", "\(taus.count)")]
        }
        emit(object(fields))
    }

    /// The run with each query's top-k rescored by the pointwise model (the rest dropped).
    private func rerank(_ run: TRECRun, with directory: String) throws -> TRECRun {
        let scorer = try PointwiseScorer(directory: URL(fileURLWithPath: directory, isDirectory: true),
                                         template: templatePreset(named: template))
        let lists = try CandidateList.fromRun(run, topK: topK, corpus: corpus!, queries: queries!)
        let progress = Progress(label: "eval: rerank", total: lists.count, unit: "queries", workUnit: "documents",
                                quiet: quiet)
        var reranked = TRECRun()
        var lines = ""
        for list in lists {
            let scores = try scorer.rawScores(query: list.query, documents: list.documents)
            reranked.scores[list.qid] = Dictionary(uniqueKeysWithValues: zip(list.docids, scores.map(Double.init)))
            for (rank, docid) in reranked.ranking(list.qid).enumerated() {
                lines += "\(list.qid) Q0 \(docid) \(rank + 1) \(reranked.scores[list.qid]![docid]!) rerank\n"
            }
            progress.advance(work: list.docids.count)
        }
        progress.finish(progress.summary)
        if let output {
            try CommandFailure.naming("--output") { try Data(lines.utf8).write(to: URL(fileURLWithPath: output), options: .atomic) }
        }
        return reranked
    }

    /// Values by query id, so a mean is summed in the same order every run (to the last digit).
    private func inOrder<Value>(_ byQuery: [String: Value]) -> [Value] { byQuery.keys.sorted().map { byQuery[$0]! } }
    private func numbers(_ named: [(String, Double)]) -> [(String, String)] { named.map { ($0.0, "\($0.1)") } }
    private func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { "\(json($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }
    private func json(_ text: String) -> String { String(decoding: try! JSONEncoder().encode(text), as: UTF8.self) }
}
