import ArgumentParser
import Distillation
import Foundation
import Ranking
import Retrieval
import SentencePiece
import T5
import Teacher

struct DistillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "distill",
        abstract: "Train a pointwise student on the teacher's order with RankNet and write a checkpoint directory.",
        discussion: """
            For each query the teacher's top --top-m documents (from a `teacher` output, or any TREC run with \
            --teacher-run) are scored with the pointwise template; the loss is the mean over every pair (i, j), \
            i ahead of j, of log(1 + exp(-(s_i - s_j))). The gradient goes back through the whole T5 (encoder, \
            the decoder step, the read lm_head rows). --holdout of the queries (chosen by id) are kept out of \
            training; their RankNet loss and Kendall tau against the teacher are printed every --eval-every steps.

            --output is a Hugging Face checkpoint directory (config.json and tokenizer copied from --model, F32 \
            model.safetensors) that transformers and rerankd load. With --checkpoint-every N the full state \
            (weights, optimiser moments, step) is written every N steps to --checkpoint-dir; rerunning the same \
            command resumes from it and reaches the same weights. Ctrl-C or SIGTERM writes one and exits 130.

            Dropout follows config.json's dropout_rate (--dropout overrides) at the places transformers applies \
            it in training (embeddings, attention probabilities, each sublayer's output, the feed-forward hidden \
            state, the final states); masks are seeded by --seed and the step, so a resumed run is exact.
            """)

    @Option(help: ArgumentHelp("Student checkpoint to start from.", valueName: "dir")) var model: String
    @Option(help: ArgumentHelp("Teacher input JSON lines {\"qid\"?, \"query\", \"docids\"?, \"documents\"}.", valueName: "file"))
    var input: String
    @Option(help: ArgumentHelp("Teacher output JSON lines (its ranking is the target).", valueName: "file"))
    var teacher: String?
    @Option(help: ArgumentHelp("A TREC run as the teacher's ranking instead (e.g. BM25's order).", valueName: "file"))
    var teacherRun: String?
    @Option(help: ArgumentHelp("Trained model directory to write.", valueName: "dir")) var output: String
    @Option(help: "Pointwise template preset of the student.") var template = PromptTemplate.instructDistill.name
    @Option(help: "Token budget of one prompt.") var maxInputTokens = 512
    @Option(help: "Documents of the teacher's ranking trained on per query.") var topM = 8
    @Option(help: "adamw or sgd.") var optimizer = "adamw"
    @Option(help: "Peak learning rate.") var lr = 2e-5
    @Option(help: "AdamW decoupled weight decay.") var weightDecay = 0.01
    @Option(help: "AdamW beta1.") var beta1 = 0.9
    @Option(help: "AdamW beta2.") var beta2 = 0.999
    @Option(help: "AdamW epsilon.") var adamEpsilon = 1e-8
    @Option(help: "Clip the global gradient norm to this (0 = off).") var maxGradNorm = 1.0
    @Option(help: "Linear warm-up steps.") var warmupSteps = 0
    @Option(help: "After warm-up: linear (to 0 at the last step) or constant.") var schedule = "linear"
    @Option(help: "Optimiser steps (default: --epochs over the training queries).") var steps: Int?
    @Option(help: "Passes over the training queries when --steps is not given.") var epochs = 1.0
    @Option(help: "Queries per micro-batch.") var batchQueries = 4
    @Option(help: "Micro-batches accumulated per step.") var accumulation = 1
    @Option(help: "Fraction of the queries held out for evaluation (chosen by a hash of the id).") var holdout = 0.1
    @Option(help: "Evaluate the held-out queries every N steps.") var evalEvery = 10
    @Option(help: "Seed of the training order and the dropout masks.") var seed: UInt64 = 1
    @Option(help: "Dropout rate while training (default: config.json's dropout_rate; 0 turns it off).")
    var dropout: Float?
    @Option(help: "Write a resumable checkpoint every N steps (0 = only when stopped).") var checkpointEvery = 0
    @Option(help: ArgumentHelp("Where checkpoints go (default: OUTPUT.checkpoint).", valueName: "dir"))
    var checkpointDir: String?
    @Option(help: ArgumentHelp("Write the held-out evaluations (step, loss, kendall_tau) here as JSON.", valueName: "file"))
    var report: String?
    @Flag(help: "No progress output.") var quiet = false

    /// Checked when the command runs (not in validate()), so a wrong value exits 64 without the usage screen.
    func checkFlags() throws {
        guard (teacher == nil) != (teacherRun == nil) else { throw CommandFailure.usage("give exactly one of --teacher and --teacher-run") }
        guard ["adamw", "sgd"].contains(optimizer) else { throw CommandFailure.usage("--optimizer is adamw or sgd") }
        guard LearningRateSchedule.Decay(rawValue: schedule) != nil else { throw CommandFailure.usage("--schedule is linear or constant") }
        guard topM >= 2, batchQueries >= 1, accumulation >= 1, evalEvery >= 1, checkpointEvery >= 0, warmupSteps >= 0 else {
            throw CommandFailure.usage("--top-m must be at least 2; --batch-queries, --accumulation, --eval-every at least 1")
        }
        if let dropout, !(0..<1).contains(dropout) { throw CommandFailure.usage("--dropout must be in [0, 1)") }
        guard lr > 0, maxGradNorm >= 0, (0..<1).contains(holdout), epochs > 0 else {
            throw CommandFailure.usage("--lr and --epochs must be positive, --max-grad-norm >= 0, --holdout in [0, 1)")
        }
        if let steps, steps < 1 { throw CommandFailure.usage("--steps must be at least 1") }
    }

    func run() throws {
        try checkFlags()
        let modelDirectory = URL(fileURLWithPath: model, isDirectory: true)
        let tokenizer = try SentencePieceTokenizer(directory: modelDirectory)
        let start = try T5Model(directory: modelDirectory)
        let scorer = try PointwiseScorer(model: start, tokenizer: tokenizer, template: templatePreset(named: template),
                                         maxInputTokens: maxInputTokens)
        let (training, heldOut) = try loadQueries(scorer)
        guard !training.isEmpty else {
            throw CommandFailure("no training query: no query of --input \(input) has two or more documents ranked in "
                + (teacher.map { "--teacher \($0)" } ?? "--teacher-run \(teacherRun!)")
                + " (the query ids must match, and held-out queries (--holdout) are not trained on)")
        }

        var settings = TrainerSettings()
        settings.optimizer = optimizer == "sgd" ? .sgd
            : .adamW(beta1: beta1, beta2: beta2, epsilon: adamEpsilon, weightDecay: weightDecay)
        settings.learningRate = lr
        settings.warmupSteps = warmupSteps
        settings.decay = LearningRateSchedule.Decay(rawValue: schedule)!
        settings.batchQueries = batchQueries
        settings.accumulation = accumulation
        settings.maxGradNorm = maxGradNorm
        settings.seed = seed
        settings.evaluateEvery = evalEvery
        settings.dropout = dropout ?? start.config.dropoutRate
        settings.steps = steps ?? max(1, Int((Double(training.count) * epochs / Double(batchQueries * accumulation)).rounded(.up)))
        CPUBudget.configureBLAS(threads: CPUBudget.cores)
        let trainer = Trainer(model: T5TrainingModel(copying: start), rule: scorer.template.rule, scoreIDs: scorer.scoreIDs,
                              settings: settings, training: training, heldOut: heldOut)

        let checkpoints = URL(fileURLWithPath: checkpointDir ?? output + ".checkpoint", isDirectory: true)
        let job = "\(settings) training:\(training.map(\.qid).joined(separator: ",")) model:\(modelDirectory.standardizedFileURL.path)"
        if let resumed = try CommandFailure.naming("--checkpoint-dir", {
            try TrainingCheckpoint.restore(trainer, job: job, from: checkpoints)
        }) {
            log("resuming from \(checkpoints.path) at step \(resumed) of \(settings.steps)")
        }
        log("\(training.count) training queries, \(heldOut.count) held out; \(settings.steps) steps of "
            + "\(batchQueries * accumulation) queries; \(start.config.outputRule)")
        let signals = StopSignal()
        let progress = Progress(label: "distill", total: settings.steps, unit: "steps", workUnit: "pairs", quiet: quiet)
        progress.resume(done: trainer.step)
        var lastLoss = 0.0
        var evaluations: [[String: Double]] = []
        try trainer.run(report: { event in
            switch event {
            case let .step(_, loss, _, _, pairs):
                lastLoss = loss
                progress.advance(work: pairs, detail: String(format: "loss %.4f", loss))
            case let .evaluation(step, loss, tau):
                evaluations.append(["step": Double(step), "loss": loss, "kendall_tau": tau])
                log(String(format: "step %d: held-out RankNet loss %.4f, Kendall tau %.4f (train loss %.4f)", step, loss, tau, lastLoss))
            }
        }, checkpoint: { trainer in
            if checkpointEvery > 0, trainer.step % checkpointEvery == 0 || trainer.step == settings.steps {
                try CommandFailure.naming("--checkpoint-dir") {
                    try TrainingCheckpoint.save(trainer, job: job, to: checkpoints, modelSource: modelDirectory)
                }
            }
        }, shouldStop: { signals.isSet })
        if trainer.step < settings.steps {
            try CommandFailure.naming("--checkpoint-dir") {
                try TrainingCheckpoint.save(trainer, job: job, to: checkpoints, modelSource: modelDirectory)
            }
            progress.finish()
            FileHandle.standardError.write(Data(("rerank-admin distill: stopped at step \(trainer.step) of \(settings.steps); "
                + "the state is in \(checkpoints.path): run the same command again to continue\n").utf8))
            throw ExitCode(130)
        }
        let destination = URL(fileURLWithPath: output, isDirectory: true)
        try CommandFailure.naming("--output") { try trainer.model.save(to: destination, copyingFrom: modelDirectory) }
        if let report {
            let document: [String: Any] = ["evaluations": evaluations, "steps": settings.steps,
                                           "training_queries": training.count, "held_out_queries": heldOut.count]
            try CommandFailure.naming("--report") {
                try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
                    .write(to: URL(fileURLWithPath: report), options: .atomic)
            }
        }
        progress.finish("\(progress.summary); model written to \(output)")
    }

    /// The teacher's top-m documents of every query as prompts, split into training and held-out queries.
    private func loadQueries(_ scorer: PointwiseScorer) throws -> (training: [TrainingQuery], heldOut: [TrainingQuery]) {
        if let teacher { try requireReadableFile(teacher, flag: "--teacher") }
        let rankings = try teacherRankings(teacher: teacher, run: teacherRun)
        return try Self.trainingQueries(scorer: scorer, input: input, rankings: rankings, topM: topM, holdout: holdout,
                                        log: log)
    }

    static func trainingQueries(scorer: PointwiseScorer, input: String, rankings: [String: [String]], topM: Int,
                                holdout: Double, log: (String) -> Void) throws
        -> (training: [TrainingQuery], heldOut: [TrainingQuery])
    {
        var training: [TrainingQuery] = [], heldOut: [TrainingQuery] = []
        var tooShort = 0, unranked = 0
        try TeacherInput.jsonLines(path: input).forEach { list in
            guard let ranking = rankings[list.qid] else { unranked += 1; return }
            let texts = Dictionary(zip(list.docids, list.documents), uniquingKeysWith: { first, _ in first })
            let top = ranking.filter { texts[$0] != nil }.prefix(topM)
            guard top.count >= 2 else { tooShort += 1; return }
            let prompts = try top.map { try scorer.encode(query: list.query, document: texts[$0]!).ids }
            let query = TrainingQuery(qid: list.qid, prompts: prompts)
            if isHeldOut(list.qid, fraction: holdout) { heldOut.append(query) } else { training.append(query) }
        }
        if unranked > 0 { log("\(unranked) input queries have no teacher ranking and are left out") }
        if tooShort > 0 { log("\(tooShort) queries have fewer than 2 ranked documents (no pair) and are left out") }
        return (training, heldOut)
    }

    /// Held out by a hash of the id, so every run and every tool agrees on the split.
    static func isHeldOut(_ qid: String, fraction: Double) -> Bool {
        Double(Shard.fnv1a(qid) % 1_000_000) < fraction * 1_000_000
    }

    private func log(_ line: String) {
        if !quiet { FileHandle.standardError.write(Data("distill: \(line)\n".utf8)) }
    }
}

/// The teacher's ranking per query, from a `teacher` output or a TREC run.
func teacherRankings(teacher: String?, run: String?) throws -> [String: [String]] {
    var rankings: [String: [String]] = [:]
    if let teacher {
        for record in try TeacherRecord.read(teacher).records { rankings[record.qid] = record.ranking }
    } else if let run {
        let run = try TRECRun.read(run)
        for qid in run.scores.keys { rankings[qid] = run.ranking(qid) }
    }
    return rankings
}
