import ArgumentParser
import Foundation
import Ranking
import T5

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score documents against queries with a pointwise prompt.",
        discussion: """
            Reads JSON lines {"query": str, "documents": [str]} and writes one line {"scores": [float]} per \
            input line, in input order. Scores are raw, as the template defines them: the logit of ▁Yes for \
            instructdistill, log P(positive) for monot5 and rg-yesno.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: ArgumentHelp("JSON-lines input file, or - for standard input.", valueName: "file"))
    var input: String = "-"

    @Option(name: .long, help: "Documents per model batch.")
    var batchSize: Int = 16

    /// Checked when the command runs (not in validate()), so a wrong value exits 64 without the usage screen.
    func checkFlags() throws {
        guard batchSize >= 1 else { throw CommandFailure.usage("--batch-size must be at least 1") }
    }

    struct Line: Decodable {
        let query: String
        let documents: [String]
    }

    func run() throws {
        try checkFlags()
        CPUBudget.configureBLAS(threads: 1)
        let scorer = try PointwiseScorer(
            directory: modelOptions.modelDirectory, template: modelOptions.resolveTemplate(),
            maxInputTokens: modelOptions.maxInputTokens)
        scorer.model.precision = modelOptions.precision
        // Which transformers rule applied tells a user why scores match (or not) their Python stack.
        FileHandle.standardError.write(Data("rerank-admin: \(modelOptions.model): \(scorer.model.config.outputRule)\n".utf8))
        if modelOptions.precision == .int8 {
            FileHandle.standardError.write(Data("rerank-admin: --precision int8: \(T5Model.int8Description)\n".utf8))
        }
        try JSONLinesReader(path: input).forEach(Line.self) { line in
            let prompts = try line.documents.map { try scorer.encode(query: line.query, document: $0).ids }
            var scores: [Float] = []
            scores.reserveCapacity(prompts.count)
            for start in stride(from: 0, to: prompts.count, by: batchSize) {
                scores += try scorer.rawScores(Array(prompts[start..<min(start + batchSize, prompts.count)]))
            }
            emit("{\"scores\":\(jsonArray(scores))}")
        }
    }
}
