import ArgumentParser

struct RerankAdmin: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rerank-admin",
        abstract: "Offline tools for the reranker: tokenize, score, evaluate, benchmark.",
        subcommands: [ScoreCommand.self, TokenizeCommand.self, EvalCommand.self, BenchCommand.self])
}
RerankAdmin.main()
