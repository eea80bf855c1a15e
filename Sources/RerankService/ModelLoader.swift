import Crypto
import Dispatch
import FileReading
import Foundation
import Ranking
import T5

public enum ModelLoadError: Error, CustomStringConvertible {
    case invalid(directory: String, reason: String)

    public var description: String {
        switch self {
        case let .invalid(directory, reason): return "model \(directory) rejected: \(reason)"
        }
    }
}

/// Loads and validates a checkpoint off the serving path.
public enum ModelLoader {
    /// Loads config, weights and tokenizer, resolves the template's score tokens, and scores one
    /// smoke pair; any failure leaves nothing behind and says why.
    public static func load(directory: String, template: PromptTemplate, maxInputTokens: Int,
                            precision: T5Model.Precision = .fp32) throws -> ActiveModel {
        let started = Date()
        let clock = DispatchTime.now().uptimeNanoseconds
        let url = URL(fileURLWithPath: directory, isDirectory: true)
        let scorer = try validate(directory: directory, template: template, maxInputTokens: maxInputTokens,
                                  precisions: [precision])
        let digest = try weightsSHA256(directory: url)
        return ActiveModel(
            scorer: scorer, directory: url.standardizedFileURL.path, weightsSHA256: digest, loadedAt: started,
            loadSeconds: Double(DispatchTime.now().uptimeNanoseconds - clock) / 1e9)
    }

    /// The checks a server runs before it serves `directory` (in `load`, at start and on every reload), once per
    /// precision in `precisions`: config, weights and tokenizer load, the template's score tokens resolve within
    /// `maxInputTokens`, and one smoke pair scores finite. `rerank-admin publish` runs exactly this, in every
    /// precision a server may run, so that what it publishes every replica loads. Returns the scorer, set to the
    /// last precision.
    public static func validate(directory: String, template: PromptTemplate, maxInputTokens: Int,
                                precisions: [T5Model.Precision]) throws -> PointwiseScorer {
        let url = URL(fileURLWithPath: directory, isDirectory: true)
        let scorer: PointwiseScorer
        do {
            scorer = try PointwiseScorer(directory: url, template: template, maxInputTokens: maxInputTokens)
        } catch {
            throw ModelLoadError.invalid(directory: directory, reason: "\(error)")
        }
        for precision in precisions {
            scorer.model.precision = precision
            let smoke = try scorer.rawScores(query: "what is a smoke test?",
                                             documents: ["A smoke test checks that the basics work."])
            guard smoke.count == 1, smoke[0].isFinite else {
                throw ModelLoadError.invalid(
                    directory: directory,
                    reason: "smoke score is not finite: \(smoke)" + (precision == .fp32 ? "" : " (precision \(precision.rawValue))"))
            }
        }
        return scorer
    }

    /// SHA-256 over the weight files (`*.safetensors`, in name order), streamed in 4 MiB chunks.
    static func weightsSHA256(directory: URL) throws -> String {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".safetensors") }.sorted()
        var hash = SHA256()
        for name in names {
            try forEachChunk(ofRegularFile: directory.appendingPathComponent(name).path) { hash.update(bufferPointer: $0) }
        }
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
