import ArgumentParser
import Foundation
import Retrieval

struct CandidatesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "candidates",
        abstract: "First-stage candidates with the built-in BM25: top-k documents per query as a TREC run.",
        discussion: """
            BM25Okapi exactly as rank_bm25 computes it. Tokens are maximal runs of Unicode letters or digits, \
            lowercased, English stopwords removed (--no-stopwords keeps them); a document is its title and \
            text. Only documents sharing a token with the query are ranked: score descending, ties by docid. \
            The corpus is streamed; the index is held in memory. For corpora beyond one machine, use a run \
            from your own engine (Elasticsearch, OpenSearch, Anserini, Vespa) in TREC format wherever a run \
            is taken.
            """)

    @Option(help: ArgumentHelp("BEIR corpus: JSON lines {\"_id\", \"title\"?, \"text\"}.", valueName: "file"))
    var corpus: String
    @Option(help: ArgumentHelp("Queries: JSON lines {\"_id\", \"text\"} or TSV qid<TAB>text.", valueName: "file"))
    var queries: String
    @Option(help: "Documents kept per query.") var topK = 100
    @Option(help: ArgumentHelp("TREC run to write (- for standard output).", valueName: "file")) var output: String
    @Flag(help: "Keep English stopwords.") var noStopwords = false
    @Option(help: "BM25 k1.") var k1 = 1.5
    @Option(help: "BM25 b.") var b = 0.75
    @Option(help: "Floor for negative idfs, as a fraction of the mean idf (rank_bm25's epsilon).") var epsilon = 0.25
    @Flag(help: "No progress output.") var quiet = false

    /// Checked when the command runs (not in validate(), where ArgumentParser would exit 1): a wrong value exits 64.
    func checkFlags() throws {
        guard topK >= 1 else { throw CommandFailure.usage("--top-k must be at least 1") }
        guard k1 >= 0, (0...1).contains(b) else { throw CommandFailure.usage("--k1 must be >= 0 and --b in [0, 1]") }
    }

    func run() throws {
        try checkFlags()
        let tokenizer = BM25Tokenizer(removesStopwords: !noStopwords)
        var index = BM25Index(parameters: .init(k1: k1, b: b, epsilon: epsilon))
        // The corpus is streamed, so its size is unknown: a count and a rate, no ETA.
        let indexing = Progress(label: "candidates: index", total: 0, unit: "documents", quiet: quiet)
        try forEachCorpusDocument(in: corpus) {
            index.add(docid: $0.id, tokens: tokenizer.tokens($0.indexedText))
            if index.count % 1000 == 0 { indexing.advance(items: 1000) }
        }
        indexing.advance(items: index.count % 1000)
        indexing.finish(indexing.summary)
        index.finish()
        let queryList = try readQueries(queries)
        let searching = Progress(label: "candidates: search", total: queryList.count, unit: "queries", quiet: quiet)
        var out = ""
        let write: (String) -> Void
        if output == "-" {
            write = { emit($0) }
        } else {
            // Fail before the search, not after it: the file must be writable.
            try CommandFailure.naming("--output") { try Data().write(to: URL(fileURLWithPath: output)) }
            write = { out += $0 + "\n" }
        }
        for query in queryList {
            for (rank, hit) in index.top(tokenizer.tokens(query.text), k: topK).enumerated() {
                write("\(query.id) Q0 \(hit.docid) \(rank + 1) \(hit.score) bm25")
            }
            searching.advance()
        }
        searching.finish(searching.summary)
        if output != "-" {
            try CommandFailure.naming("--output") { try Data(out.utf8).write(to: URL(fileURLWithPath: output), options: .atomic) }
        }
    }
}
