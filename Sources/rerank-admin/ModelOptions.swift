import ArgumentParser
import Foundation
import Ranking
import T5

extension T5Model.Precision: ExpressibleByArgument {}

/// Where the checkpoint and the prompt template come from.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Checkpoint directory in Hugging Face layout (config.json, model.safetensors or a sharded index, "
            + "spiece.model and/or tokenizer.json).", valueName: "dir"))
    var model: String

    @Option(name: .long, help: ArgumentHelp(
        "Prompt template preset: \(PromptTemplate.presets.keys.sorted().joined(separator: ", ")).",
        valueName: "name"))
    var template: String = PromptTemplate.instructDistill.name

    @Option(name: .long, help: ArgumentHelp(
        "Custom template JSON file (overrides --template): {\"name\", \"text\" with {query} and {passage}, "
            + "\"max_passage_words\"?, \"score\": {\"logit\": piece} or {\"log_softmax\": {\"positive\", \"negative\"}}}.",
        valueName: "file"))
    var templateFile: String?

    @Option(name: .long, help: "Token budget of one prompt; only the document is cut to fit.")
    var maxInputTokens: Int = 512

    @Option(name: .long, help: ArgumentHelp(
        "Arithmetic of the linear layers: fp32 (exact, the default) or int8 (weights per output row, "
            + "activations per row, oneDNN's int8 GEMM; faster, scores move slightly).", valueName: "precision"))
    var precision: T5Model.Precision = .fp32

    func validate() throws {
        guard maxInputTokens >= 8 else { throw ValidationError("--max-input-tokens must be at least 8") }
    }

    func resolveTemplate() throws -> PromptTemplate {
        if let file = templateFile {
            return try CommandFailure.naming("--template-file") { try PromptTemplate.load(from: URL(fileURLWithPath: file)) }
        }
        return try templatePreset(named: template)
    }

    var modelDirectory: URL { URL(fileURLWithPath: model, isDirectory: true) }
}

/// The template preset `name` given with `flag`; an unknown name is a wrong command line (exit 64) naming the flag.
func templatePreset(named name: String, flag: String = "--template") throws -> PromptTemplate {
    do { return try PromptTemplate.preset(named: name) } catch { throw CommandFailure.usage("\(flag): \(error)") }
}
