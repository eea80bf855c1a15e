import ArgumentParser

struct RerankAdmin: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rerank-admin",
        abstract: "Offline tools for the reranker: tokenize, score, candidates (BM25), teacher (PRP), distill, publish, pipeline, evaluate, benchmark.",
        subcommands: [
            ScoreCommand.self, TokenizeCommand.self, CandidatesCommand.self, TeacherCommand.self, TeacherMergeCommand.self,
            DistillCommand.self, PublishCommand.self, RollbackCommand.self, PipelineCommand.self, EvalCommand.self, BenchCommand.self,
        ])
}
RerankAdmin.main()
