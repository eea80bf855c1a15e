import ArgumentParser
import Foundation
import Ranking
import Retrieval
import Teacher

struct TeacherCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teacher",
        abstract: "Rank each query's candidates with the pairwise teacher (PRP) and write its verdicts as JSON lines.",
        discussion: """
            Prompt and scoring are the prp preset: both passages cut to their first 100 words, the decoder fed \
            [start, ▁passage], ▁A against ▁B at its last position. --method allpairs asks every ordered pair \
            i != j (k(k-1) prompts per query; an exact tie gives 0.5 to each) and sorts by wins, the earlier \
            first-stage position winning equal counts (+1/(10 + position)); --method sliding runs --passes \
            bubble passes from the bottom, swapping neighbours only when both orders agree (2(k-1) prompts a pass).

            Input: --input JSON lines {"qid"?, "query", "docids"?, "documents": [str]} (documents best first; \
            qid defaults to the line's 0-based number, docids to "0", "1", ...), or --run RUN --corpus C \
            --queries Q (the run's top-k with their texts). Output: one line per query, \
            {"qid", "docids", "wins", "ranking"}, wins in docids order, ranking best first.

            Each finished query is appended and synced at once. Rerun the same command after a crash, a kill \
            or Ctrl-C and it continues where it stopped: no query is lost or written twice (OUTPUT.job.json \
            records the job; another job's output is refused). --shard i/n takes the queries whose id hashes \
            to i (0-based), so n workers split the input; join their outputs with teacher-merge.

            --endpoint URL asks an OpenAI-compatible completions server (vLLM, TGI, llama.cpp) instead of the \
            built-in core: the same prompt ending in "Answer: passage", one token, A against B by log-probability. \
            Each attempt has --request-timeout seconds in all (a server trickling bytes is cut off there) and \
            --max-response-bytes of answer (over http:// reading stops there; an https:// answer is refused as it \
            passes it). An answer whose top log-probabilities hold neither A nor B counts as \
            a tie; a query with more of them than --max-missing-answers (a fraction of its prompts) stops the run \
            before that query is written, saying what the endpoint answered instead. NaN or infinite \
            log-probabilities stop it too.
            """)

    @Option(help: ArgumentHelp("Teacher checkpoint directory (Hugging Face T5 layout); not with --endpoint.",
                               valueName: "dir"))
    var model: String?
    @Option(help: ArgumentHelp("Teacher input, JSON lines.", valueName: "file")) var input: String?
    @Option(name: .customLong("run"), help: ArgumentHelp("First-stage TREC run (instead of --input).", valueName: "file"))
    var runFile: String?
    @Option(help: ArgumentHelp("BEIR corpus JSON lines, with --run.", valueName: "file")) var corpus: String?
    @Option(help: ArgumentHelp("Queries (JSON lines or TSV), with --run.", valueName: "file")) var queries: String?
    @Option(help: ArgumentHelp("Output JSON lines; appended to when resuming.", valueName: "file")) var output: String
    @Option(help: "Candidates ranked per query (the first ones of each input line or run).") var topK = 20
    @Option(help: ArgumentHelp("This worker's share of the queries, i/n with 0 <= i < n.", valueName: "i/n"))
    var shard = "0/1"
    @Option(help: "allpairs or sliding.") var method = "allpairs"
    @Option(help: "Bubble passes of --method sliding (each moves one more candidate into place).") var passes = 1
    @Option(help: "Token budget of one prompt; both passages are cut further if 100 words each do not fit.")
    var maxInputTokens = 512
    @Option(help: "Prompts per batch on the core (also how often a stop request is noticed).") var batchSize = 64
    @Option(help: ArgumentHelp("OpenAI-compatible completions URL, e.g. http://gpu:8000/v1/completions.",
                               valueName: "url"))
    var endpoint: String?
    @Option(help: "Model name sent to the endpoint.") var endpointModel = "teacher"
    @Option(help: "Requests in flight to the endpoint.") var concurrency = 8
    @Option(help: ArgumentHelp("Retries of a request that fails to connect, runs past --request-timeout or gets "
        + "429/5xx (exponential backoff)."))
    var retries = 5
    @Option(help: "Log-probabilities asked per request; A or B missing from them counts as -infinity.")
    var topLogprobs = 20
    @Option(help: ArgumentHelp("Environment variable holding the endpoint's API key.", valueName: "name"))
    var apiKeyEnv: String?
    @Option(help: ArgumentHelp("Seconds one endpoint request may take in all, connecting to last byte; past it, "
        + "it is retried as a connection error is.", valueName: "seconds"))
    var requestTimeout = 120.0
    @Option(help: ArgumentHelp("Largest endpoint answer read (one prompt's answer is a few kilobytes).", valueName: "bytes"))
    var maxResponseBytes = 1 << 20
    @Option(help: ArgumentHelp("Fraction of a query's endpoint answers that may hold neither A nor B (each counts "
        + "as a tie); above it the run stops at that query.", valueName: "fraction"))
    var maxMissingAnswers = 0.1
    @Flag(help: "No progress output.") var quiet = false

    /// Checked when the command runs (not in validate(), where ArgumentParser would exit 1): a wrong value exits 64.
    func checkFlags() throws {
        guard (model == nil) != (endpoint == nil) else { throw CommandFailure.usage("give exactly one of --model and --endpoint") }
        guard (input == nil) != (runFile == nil) else { throw CommandFailure.usage("give exactly one of --input and --run") }
        if runFile != nil, corpus == nil || queries == nil { throw CommandFailure.usage("--run needs --corpus and --queries") }
        guard topK >= 2 else { throw CommandFailure.usage("--top-k must be at least 2 (a pair)") }
        guard Shard(parsing: shard) != nil else { throw CommandFailure.usage("--shard must be i/n with 0 <= i < n, got \(shard)") }
        guard ["allpairs", "sliding"].contains(method) else { throw CommandFailure.usage("--method is allpairs or sliding") }
        guard passes >= 1, batchSize >= 1, concurrency >= 1, retries >= 0, topLogprobs >= 2 else {
            throw CommandFailure.usage("--passes, --batch-size and --concurrency must be >= 1, --retries >= 0, --top-logprobs >= 2")
        }
        guard requestTimeout > 0, requestTimeout.isFinite else { throw CommandFailure.usage("--request-timeout must be > 0") }
        guard maxResponseBytes >= 1024 else { throw CommandFailure.usage("--max-response-bytes must be at least 1024") }
        guard (0...1).contains(maxMissingAnswers) else { throw CommandFailure.usage("--max-missing-answers is a fraction in [0, 1]") }
    }

    func run() throws {
        try checkFlags()
        let shard = Shard(parsing: shard)!
        let source: TeacherInput
        let inputName: String
        if let input {
            source = .jsonLines(path: input)
            inputName = "jsonl:" + absolute(input)
        } else {
            source = .queries(try CandidateList.fromRun(TRECRun.read(runFile!), topK: topK, corpus: corpus!, queries: queries!))
            inputName = "run:\(absolute(runFile!)) corpus:\(absolute(corpus!)) queries:\(absolute(queries!))"
        }
        var owned = 0
        try source.forEach { if shard.contains(qid: $0.qid) { owned += 1 } }
        let pairwise: PairwiseMethod = method == "allpairs" ? .allPairs : .sliding(passes: passes)
        let job = TeacherJob(input: inputName, teacher: endpoint.map { "endpoint:\($0) model:\(endpointModel)" }
                                 ?? "core:" + absolute(model!),
                             method: method == "allpairs" ? "allpairs" : "sliding:\(passes)", topK: topK,
                             shard: shard, queries: owned)
        try requireWritableDirectory(of: output, flag: "--output")
        let out = try TeacherOutput(path: output, job: job)
        let judge = try makeJudge()
        let signals = StopSignal()
        let stop = signals.flag
        let progress = Progress(label: "teacher", total: owned, unit: "queries", workUnit: "prompts", quiet: quiet)
        progress.resume(done: out.done.count)
        var finished = out.done.count
        var missingAnswers = 0, answers = 0
        do {
            try source.forEach { query in
                guard shard.contains(qid: query.qid), !out.done.contains(query.qid) else { return }
                let top = query.top(topK)
                let passages = top.documents.map(PairwisePrompt.cut)
                var missing = MissingAnswers()
                let outcome = try PairwiseOutcome.rank(count: top.docids.count, method: pairwise) { pairs in
                    var preferences: [PairPreference] = []
                    for start in stride(from: 0, to: pairs.count, by: batchSize) {
                        if stop.isSet { throw TeacherError.interrupted(done: finished, total: owned) }
                        let batch = Array(pairs[start..<min(start + batchSize, pairs.count)])
                        let judged = try judge(top.query, passages, batch, { stop.isSet })
                        missing.add(judged)
                        preferences += judged.map(\.preference)
                    }
                    return preferences
                }
                missingAnswers += missing.count
                answers += outcome.prompts
                try missing.check(qid: top.qid, prompts: outcome.prompts, limit: maxMissingAnswers)
                try out.append(TeacherRecord(query: top, outcome: outcome))
                finished += 1
                progress.advance(work: outcome.prompts)
            }
        } catch let error as TeacherError {
            if case .interrupted = error {
                progress.finish()
                FileHandle.standardError.write(Data("rerank-admin teacher: \(TeacherError.interrupted(done: finished, total: owned))\n".utf8))
                throw ExitCode(130)
            }
            throw error
        }
        progress.finish("\(progress.summary); \(finished) of \(owned) queries of shard \(shard) are in \(output)")
        if missingAnswers > 0 {
            FileHandle.standardError.write(Data(("rerank-admin teacher: \(missingAnswers) of \(answers) answers held neither "
                + "A nor B among their top log-probabilities; each counted as a tie (a query may have up to "
                + "--max-missing-answers \(String(format: "%g", maxMissingAnswers)) of them)\n").utf8))
        }
    }

    typealias Judge = (String, [String], [OrderedPair], @escaping @Sendable () -> Bool) throws -> [CompletionsJudge.Answer]

    private func makeJudge() throws -> Judge {
        if let endpoint {
            guard let url = URL(string: endpoint), url.scheme == "http" || url.scheme == "https" else {
                throw CommandFailure.usage("--endpoint must be an http(s) URL, got \(endpoint)")
            }
            var settings = CompletionsJudge.Settings(url: url, model: endpointModel)
            settings.concurrency = concurrency
            settings.retries = retries
            settings.topLogprobs = topLogprobs
            settings.timeout = requestTimeout
            settings.maxResponseBytes = maxResponseBytes
            if let name = apiKeyEnv {
                guard let key = ProcessInfo.processInfo.environment[name] else {
                    throw CommandFailure("--api-key-env \(name): that variable is not set")
                }
                settings.apiKey = key
            }
            let judge = CompletionsJudge(settings: settings)
            return { query, passages, pairs, stop in
                try judge.judge(query: query, passages: passages, pairs: pairs, stop: stop)
            }
        }
        let scorer = try PairwiseScorer(directory: URL(fileURLWithPath: model!, isDirectory: true),
                                        maxInputTokens: maxInputTokens)
        if !quiet {
            FileHandle.standardError.write(Data("rerank-admin: \(model!): \(scorer.model.config.outputRule)\n".utf8))
        }
        return { query, passages, pairs, _ in
            try scorer.judge(query: query, passages: passages, pairs: pairs).map { CompletionsJudge.Answer(preference: $0) }
        }
    }

    private func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }
}

struct TeacherMergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teacher-merge",
        abstract: "Join the outputs of the shards of one teacher job into one file.",
        discussion: """
            Every shard 0..n-1 of the same job must be given once and be finished (each shard's .job.json \
            says how many queries it owns); a missing, unfinished or repeated shard, or a query in two shards, \
            is an error and nothing is written.
            """)

    @Option(help: ArgumentHelp("Merged output, JSON lines.", valueName: "file")) var output: String
    @Argument(help: ArgumentHelp("Shard outputs of `teacher --shard i/n`.", valueName: "shard"))
    var shards: [String]

    func run() throws {
        try requireWritableDirectory(of: output, flag: "--output")
        let count = try TeacherMerge.merge(shards: shards, into: output)
        FileHandle.standardError.write(Data("teacher-merge: \(count) queries from \(shards.count) shards in \(output)\n".utf8))
    }
}
