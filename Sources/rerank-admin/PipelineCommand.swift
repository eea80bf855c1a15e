import ArgumentParser
import Distillation
import Foundation
import ModelStore
import Ranking
import Retrieval
import SentencePiece
import T5
import Teacher

struct PipelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Retrain and publish: candidates -> teacher -> distill -> gate -> publish, resumable, for cron.",
        discussion: """
            Every stage keeps its output in --work-dir and a rerun continues where the last one stopped: \
            candidates.trec (BM25, or --run from your own engine), teacher-input.jsonl, teacher.jsonl \
            (resumable per query), student/ (resumable from student.checkpoint/), then the gate and publish. \
            --work-dir/.lock keeps two runs from overlapping (the second exits 75 at once).

            The gate: the new student and the store's current model score the held-out queries (--holdout, \
            chosen by id as distill does); if the student's mean Kendall tau against the teacher is below the \
            current model's by more than --max-regression, nothing is published and the run exits 3. The \
            student starts from the store's current version unless --student-model says otherwise.

            --config FILE takes the flags from a JSON object ({"corpus": "...", "top-k": 20, "quiet": true, ...}), \
            each value of its flag's type (a string, an integer, a number, or true/false for a flag; a wrong type \
            or an unknown name is an error naming the file and the key); flags on the command line win. For \
            cron, give each run its own --work-dir (e.g. .../$(date +%F)).

            A sharded teacher (a Kubernetes Indexed Job): run with --stop-after teacher-input, then \
            `teacher --model M --input WORK/teacher-input.jsonl --output WORK/teacher.shard-i.jsonl --top-k K \
            --shard i/n` on n workers and `teacher-merge --output WORK/teacher.jsonl` over the shards, then this \
            command again: it finds the merged teacher output finished and goes on to distill (the teacher \
            model, input path and --top-k must be the same strings in all three).
            """)

    @Option(help: ArgumentHelp("JSON object of flag names to values.", valueName: "file")) var config: String?
    @Option(help: ArgumentHelp("Directory for this run's state.", valueName: "dir")) var workDir: String?
    @Option(help: ArgumentHelp("BEIR corpus JSON lines.", valueName: "file")) var corpus: String?
    @Option(help: ArgumentHelp("Queries, JSON lines or TSV.", valueName: "file")) var queries: String?
    @Option(name: .customLong("run"), help: ArgumentHelp("First-stage TREC run instead of the built-in BM25.", valueName: "file"))
    var runFile: String?
    @Option(help: ArgumentHelp("Requests captured by `rerankd --capture-dir` as the queries and candidates, instead "
        + "of --corpus/--queries.", valueName: "dir"))
    var captured: String?
    @Option(help: ArgumentHelp("Model store to publish into (and whose current version is the baseline).", valueName: "dir"))
    var store: String?
    @Option(help: ArgumentHelp("Teacher checkpoint directory.", valueName: "dir")) var teacherModel: String?
    @Option(help: ArgumentHelp("OpenAI-compatible completions URL for the teacher instead.", valueName: "url"))
    var teacherEndpoint: String?
    @Option(help: ArgumentHelp("Student to start from (default: the store's current version).", valueName: "dir"))
    var studentModel: String?
    @Option(help: "Candidates per query (BM25 depth and teacher top-k).") var topK = 20
    @Option(help: "Teacher's top documents the student trains on.") var topM = 8
    @Option(help: "Student template.") var template = PromptTemplate.instructDistill.name
    @Option(help: "Training steps (default: one epoch).") var steps: Int?
    @Option(help: "Peak learning rate.") var lr = 2e-5
    @Option(help: "Queries per training step.") var batchQueries = 4
    @Option(help: "Fraction of queries held out for the gate.") var holdout = 0.1
    @Option(help: "Largest drop in held-out Kendall tau against the current model that still publishes.")
    var maxRegression = 0.0
    @Option(help: "Versions the store keeps.") var keep = 5
    @Option(help: ArgumentHelp("Also POST /admin/reload here after publishing.", valueName: "url")) var notify: String?
    @Option(help: ArgumentHelp("Environment variable holding the admin token for --notify.", valueName: "name"))
    var adminTokenEnv = "RERANK_ADMIN_TOKEN"
    @Option(help: ArgumentHelp("End the run after this stage (candidates, teacher-input, teacher, distill).",
                               valueName: "stage"))
    var stopAfter: String?
    @Flag(help: "No progress output.") var quiet = false

    static let stages = ["candidates", "teacher-input", "teacher", "distill"]

    func run() throws {
        if let config {
            // The config's flags first, so the command line's own win.
            let arguments = try Self.arguments(fromConfig: config)
            var merged: PipelineCommand
            do { merged = try Self.parse(arguments + Array(CommandLine.arguments.dropFirst(2))) } catch {
                throw CommandFailure("\(config): \(Self.message(for: error))")
            }
            merged.config = nil
            return try merged.run()
        }
        guard let workDir, let store else { throw CommandFailure.usage("--work-dir and --store are required (flags or --config)") }
        guard (corpus != nil && queries != nil) != (captured != nil) else {
            throw CommandFailure.usage("give --corpus and --queries, or --captured")
        }
        guard (teacherModel == nil) != (teacherEndpoint == nil) else {
            throw CommandFailure.usage("give exactly one of --teacher-model and --teacher-endpoint")
        }
        if let stopAfter, !Self.stages.contains(stopAfter) {
            throw CommandFailure.usage("--stop-after is one of \(Self.stages.joined(separator: ", "))")
        }
        let work = URL(fileURLWithPath: workDir, isDirectory: true)
        try CommandFailure.naming("--work-dir") { try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true) }
        let lock = open(work.appendingPathComponent(".lock").path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lock >= 0 else {
            throw CommandFailure("--work-dir \(workDir): cannot open .lock: \(String(cString: strerror(errno)))")
        }
        guard flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            FileHandle.standardError.write(Data("pipeline: another run holds \(workDir)/.lock; not starting\n".utf8))
            throw ExitCode(75)
        }
        defer { close(lock) }
        let modelStore = ModelStore(root: URL(fileURLWithPath: store, isDirectory: true))
        let current = try? modelStore.currentDirectory()
        guard let start = studentModel.map({ URL(fileURLWithPath: $0, isDirectory: true) }) ?? current else {
            throw CommandFailure("the store has no current version: give --student-model for the first run")
        }
        let file = { work.appendingPathComponent($0).path }
        let quietFlag = quiet ? ["--quiet"] : []

        if let captured {
            try stage("teacher input from captured requests",
                      done: FileManager.default.fileExists(atPath: file("teacher-input.jsonl"))) {
                try CommandFailure.naming("--captured") {
                    try Self.joinCaptured(in: captured, into: URL(fileURLWithPath: file("teacher-input.jsonl")))
                }
            }
        } else if let runFile {
            if !FileManager.default.fileExists(atPath: file("candidates.trec")) {
                try CommandFailure.naming("--run") { try FileManager.default.copyItem(atPath: runFile, toPath: file("candidates.trec")) }
            }
        } else {
            try stage("candidates", done: FileManager.default.fileExists(atPath: file("candidates.trec"))) {
                let command = try CandidatesCommand.parse(["--corpus", corpus!, "--queries", queries!, "--top-k", "\(topK)",
                                                           "--output", file("candidates.trec")] + quietFlag)
                try command.run()
            }
        }
        if stopsAfter("candidates") { return }
        if captured == nil {
            try stage("teacher input", done: FileManager.default.fileExists(atPath: file("teacher-input.jsonl"))) {
                try Self.writeTeacherInput(run: file("candidates.trec"), topK: topK, corpus: corpus!, queries: queries!,
                                           to: URL(fileURLWithPath: file("teacher-input.jsonl")))
            }
        }
        if let teacherModel {
            // What a sharded teacher's pods run (Deploy/kubernetes/sharded-teacher), from this run's own settings.
            try CommandFailure.naming("--work-dir") {
                try Self.teacherSettings(model: teacherModel, topK: topK)
                    .write(toFile: file("teacher.env"), atomically: true, encoding: .utf8)
            }
        }
        if stopsAfter("teacher-input") { return }
        try stage("teacher", done: false) {
            let backend = teacherModel.map { ["--model", $0] } ?? ["--endpoint", teacherEndpoint!]
            let command = try TeacherCommand.parse(backend + ["--input", file("teacher-input.jsonl"), "--output",
                                                              file("teacher.jsonl"), "--top-k", "\(topK)"] + quietFlag)
            try command.run()
        }
        if stopsAfter("teacher") { return }
        try stage("distill", done: FileManager.default.fileExists(atPath: file("student/model.safetensors"))) {
            let command = try DistillCommand.parse(
                ["--model", start.path, "--input", file("teacher-input.jsonl"), "--teacher", file("teacher.jsonl"),
                 "--output", file("student"), "--template", template, "--top-m", "\(topM)", "--lr", "\(lr)",
                 "--batch-queries", "\(batchQueries)", "--holdout", "\(holdout)", "--checkpoint-every", "50",
                 "--report", file("distill-report.json")] + (steps.map { ["--steps", "\($0)"] } ?? []) + quietFlag)
            try command.run()
        }
        if stopsAfter("distill") { return }

        // The gate: held-out agreement with the teacher, new student against what serves now.
        let rankings = try teacherRankings(teacher: file("teacher.jsonl"), run: nil)
        func agreement(_ directory: URL) throws -> Double {
            let scorer = try PointwiseScorer(directory: directory, template: templatePreset(named: template))
            let (_, heldOut) = try DistillCommand.trainingQueries(
                scorer: scorer, input: file("teacher-input.jsonl"), rankings: rankings, topM: topM, holdout: holdout,
                log: { _ in })
            guard !heldOut.isEmpty else { throw CommandFailure("no held-out query: raise --holdout or add queries") }
            let trainer = Trainer(model: T5TrainingModel(copying: scorer.model), rule: scorer.template.rule,
                                  scoreIDs: scorer.scoreIDs, settings: TrainerSettings(), training: heldOut, heldOut: heldOut)
            guard case let .evaluation(_, _, tau) = try trainer.evaluate() else { return 0 }
            return tau
        }
        let student = try agreement(work.appendingPathComponent("student"))
        let baseline = try current.map(agreement)
        log("held-out Kendall tau against the teacher: student \(String(format: "%.4f", student)), current "
            + (baseline.map { String(format: "%.4f", $0) } ?? "none"))
        if let baseline, student < baseline - maxRegression {
            FileHandle.standardError.write(Data(("pipeline: not publishing: the student's held-out Kendall tau "
                + "\(String(format: "%.4f", student)) is below the current model's \(String(format: "%.4f", baseline)) "
                + "by more than --max-regression \(maxRegression)\n").utf8))
            throw ExitCode(3)
        }
        try stage("publish", done: false) {
            var arguments = [file("student"), "--store", store, "--template", template, "--keep", "\(keep)"]
            if let notify {
                guard let token = ProcessInfo.processInfo.environment[adminTokenEnv] else {
                    throw CommandFailure("--notify needs the admin token in $\(adminTokenEnv)")
                }
                arguments += ["--notify", notify, "--admin-token", token]
            }
            let command = try PublishCommand.parse(arguments)
            // A version rolled back since an earlier run published it is held: not published, exit 3 as the gate;
            // a --notify that fails after the flip exits 4 (published, not notified).
            do { try command.execute() } catch let failure as CommandFailure { throw failure.spoken(by: "pipeline") }
        }
    }

    /// The top-k of each query of `run` with its texts, as teacher input lines.
    /// The teacher settings a sharded teacher must use for its output to be this run's, as `sh` assignments
    /// (`. WORK/teacher.env`): TEACHER_MODEL and TOP_K.
    static func teacherSettings(model: String, topK: Int) -> String {
        let quoted = "'" + model.replacingOccurrences(of: "'", with: "'\\''") + "'"
        return "# The teacher of this pipeline run, for its sharded teacher's pods: . WORK/teacher.env\n"
            + "TEACHER_MODEL=\(quoted)\nTOP_K=\(topK)\n"
    }

    static func writeTeacherInput(run: String, topK: Int, corpus: String, queries: String, to output: URL) throws {
        let lists = try CandidateList.fromRun(TRECRun.read(run), topK: topK, corpus: corpus, queries: queries)
        let lines = try lists.map { list -> String in
            let object: [String: Any] = ["qid": list.qid, "query": list.query, "docids": list.docids,
                                         "documents": list.documents]
            return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        }
        try CommandFailure.naming("--work-dir") { try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: output, options: .atomic) }
    }

    /// The capture files of `directory`, oldest first, as one teacher input file.
    static func joinCaptured(in directory: String, into output: URL) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasPrefix("capture-") && $0.hasSuffix(".jsonl") }.sorted()
        guard !names.isEmpty else { throw CommandFailure("\(directory) holds no capture-*.jsonl files") }
        var joined = Data()
        for name in names {
            var data = try Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent(name))
            // A writer that was killed may leave a last line without its newline: drop that line.
            if let end = data.lastIndex(of: 0x0A) { data = data.prefix(through: end) } else { data = Data() }
            joined.append(data)
        }
        try joined.write(to: output, options: .atomic)
    }

    private func stopsAfter(_ stage: String) -> Bool {
        guard stopAfter == stage else { return false }
        log("stopping after \(stage) (--stop-after); run again without it to go on")
        return true
    }

    private func stage(_ name: String, done: Bool, _ body: () throws -> Void) throws {
        if done { return log("\(name): done in an earlier run") }
        log("\(name)")
        try body()
    }

    private func log(_ line: String) {
        if !quiet { FileHandle.standardError.write(Data("pipeline: \(line)\n".utf8)) }
    }

    /// The value type of a flag a config file may set.
    enum ConfigKind: Equatable {
        case string, integer, number, flag
    }

    /// Every flag of this command and its value type, read from the declarations themselves (so a new
    /// option is settable from a config at once): `topK: Int` is `"top-k"`, an integer.
    static var configKinds: [String: ConfigKind] {
        var kinds: [String: ConfigKind] = [:]
        for child in Mirror(reflecting: Self()).children {
            guard let label = child.label, label.hasPrefix("_") else { continue }
            let kind: ConfigKind
            switch child.value {
            case is Option<String>, is Option<String?>: kind = .string
            case is Option<Int>, is Option<Int?>: kind = .integer
            case is Option<Double>, is Option<Double?>: kind = .number
            case is Flag<Bool>: kind = .flag
            default: continue
            }
            let name = label.dropFirst().map { $0.isUppercase ? "-" + $0.lowercased() : String($0) }.joined()
            kinds[name == "run-file" ? "run" : name] = kind
        }
        kinds["config"] = nil
        return kinds
    }

    /// A JSON value as it is written: true is never 1, 1 never true.
    enum ConfigValue: Decodable {
        case bool(Bool), integer(Int), number(Double), string(String), other

        init(from decoder: Decoder) throws {
            let value = try decoder.singleValueContainer()
            if let bool = try? value.decode(Bool.self) { self = .bool(bool) }
            else if let integer = try? value.decode(Int.self) { self = .integer(integer) }
            else if let number = try? value.decode(Double.self) { self = .number(number) }
            else if let string = try? value.decode(String.self) { self = .string(string) }
            else { self = .other }
        }
    }

    /// `--key=value` arguments from a JSON object of flag names, each value checked against its flag's type
    /// (true is a bare flag, false leaves it out); a wrong type or an unknown key names the file and key.
    static func arguments(fromConfig path: String) throws -> [String] {
        let data = try CommandFailure.naming("--config") { try Data(contentsOf: URL(fileURLWithPath: path)) }
        guard let object = try? JSONDecoder().decode([String: ConfigValue].self, from: data) else {
            throw CommandFailure("\(path): not a JSON object of flag names to values")
        }
        let kinds = configKinds
        var arguments: [String] = []
        for key in object.keys.sorted() {
            guard let kind = kinds[key] else {
                throw CommandFailure("\(path): \"\(key)\" is not a pipeline flag (one of \(kinds.keys.sorted().joined(separator: ", ")))")
            }
            switch (kind, object[key]!) {
            case (.flag, .bool(true)): arguments.append("--\(key)")
            case (.flag, .bool(false)): break
            case (.flag, _): throw CommandFailure("\(path): \"\(key)\" must be true or false")
            case let (.integer, .integer(value)): arguments.append("--\(key)=\(value)")
            case (.integer, _): throw CommandFailure("\(path): \"\(key)\" must be an integer")
            case let (.number, .integer(value)): arguments.append("--\(key)=\(value)")
            case let (.number, .number(value)): arguments.append("--\(key)=\(value)")
            case (.number, _): throw CommandFailure("\(path): \"\(key)\" must be a number")
            case let (.string, .string(value)): arguments.append("--\(key)=\(value)")
            case (.string, _): throw CommandFailure("\(path): \"\(key)\" must be a string")
            }
        }
        return arguments
    }
}
