import ArgumentParser

struct RerankAdmin: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rerank-admin",
        abstract: "Offline tools for the reranker: tokenize, score, benchmark.",
        subcommands: [ScoreCommand.self, TokenizeCommand.self, BenchCommand.self])
}
RerankAdmin.main()
