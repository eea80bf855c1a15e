import ArgumentParser

struct RerankAdmin: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rerank-admin",
        abstract: "Offline tools for the reranker: tokenize, score, candidates (BM25), teacher (PRP), distill, publish, pipeline, evaluate, benchmark.",
        subcommands: [
            ScoreCommand.self, TokenizeCommand.self, CandidatesCommand.self, TeacherCommand.self, TeacherMergeCommand.self,
            DistillCommand.self, PublishCommand.self, RollbackCommand.self, StoreCommand.self, PipelineCommand.self,
            EvalCommand.self, BenchCommand.self,
        ])
}

// Not RerankAdmin.main(): a failure while running exits with its own code (CommandFailure) and never shows
// Foundation's error objects; ArgumentParser still prints usage errors (64), --help and --version.
do {
    var command = try RerankAdmin.parseAsRoot()
    try command.run()
} catch {
    CommandFailure.exit(error)
}
