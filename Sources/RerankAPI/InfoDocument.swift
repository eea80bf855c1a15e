import Foundation
import RerankService
import T5

/// `GET /info`: what is serving, with which limits.
struct InfoDocument: Encodable {
    struct Model: Encodable {
        let name: String
        let directory: String
        let weightsSHA256: String
        let loadedAt: String
        let loadSeconds: Double
        let config: Config
        /// "fp32" or "int8", and with int8 the largest weight level (127 with VNNI, 63 without).
        let precision: String
        let int8WeightLevels: Int?
        /// "avx2+fma" or "baseline": the elementwise kernels this process runs.
        let kernels: String
        enum CodingKeys: String, CodingKey {
            case name, directory, config, precision, kernels
            case int8WeightLevels = "int8_weight_levels"
            case weightsSHA256 = "weights_sha256"
            case loadedAt = "loaded_at"
            case loadSeconds = "load_seconds"
        }
    }
    struct Config: Encodable {
        let vocab_size, d_model, d_kv, d_ff, num_heads, num_layers, num_decoder_layers: Int
        let relative_attention_num_buckets, relative_attention_max_distance: Int
        let feed_forward_proj: String
        let output_projection: String
        let scale_decoder_outputs: Bool
        /// The whole rule in words, naming the config key that decided the scaling.
        let output_rule: String
        let decoder_start_token_id: Int32
    }
    struct Template: Encodable {
        let name: String
        let text: String
        let max_passage_words: Int?
        let score: String
    }
    struct Limits: Encodable {
        let max_input_tokens, max_documents, max_batch_tokens, max_batch_pairs, max_queued_tokens, max_body_bytes: Int
        let max_batch_delay_seconds, request_timeout_seconds: Double
    }
    struct Failure: Encodable {
        let directory: String
        let error: String
        let at: String
    }
    /// `--capture-dir`: where sampled requests go, and whether they can (`error` says why not).
    struct Capture: Encodable {
        let directory: String
        let rate: Double
        let active: Bool
        let error: String?
    }
    let version: String
    /// serving, no_model (nothing loaded yet: an empty model store) or draining.
    let state: String
    /// Null until a model has loaded.
    let model: Model?
    let template: Template
    let limits: Limits
    /// Null when capture is off.
    let capture: Capture?
    /// The last reload that failed (the model above kept serving); absent until one fails and after one succeeds.
    let last_reload_failure: Failure?

    enum CodingKeys: String, CodingKey {
        case version, state, model, template, limits, capture, last_reload_failure
    }

    /// `model` and `capture` are written as null when absent (a client sees the key); `last_reload_failure` is left out.
    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(version, forKey: .version)
        try container.encode(state, forKey: .state)
        try container.encode(model, forKey: .model)
        try container.encode(template, forKey: .template)
        try container.encode(limits, forKey: .limits)
        try container.encode(capture, forKey: .capture)
        try container.encodeIfPresent(last_reload_failure, forKey: .last_reload_failure)
    }
}

extension RerankRouter {
    func infoJSON(model: ActiveModel? = nil) -> Data {
        let model = model ?? service.model
        let template = model?.scorer.template ?? service.template
        let limits = service.configuration
        let score: String
        switch template.rule {
        case let .logit(piece): score = "logit(\(piece))"
        case let .logSoftmax(positive, negative): score = "log_softmax(\(positive) over \(negative), \(positive))"
        }
        let document = InfoDocument(
            version: configuration.version,
            state: service.state.rawValue,
            model: model.map(Self.infoModel),
            template: .init(name: template.name, text: template.text, max_passage_words: template.maxPassageWords,
                            score: score),
            limits: .init(
                max_input_tokens: limits.maxInputTokens, max_documents: limits.maxDocuments,
                max_batch_tokens: limits.maxBatchTokens, max_batch_pairs: limits.maxBatchPairs,
                max_queued_tokens: limits.maxQueuedTokens, max_body_bytes: configuration.maxBodyBytes,
                max_batch_delay_seconds: limits.maxBatchDelay, request_timeout_seconds: limits.requestTimeout),
            capture: service.captureStatus.map {
                .init(directory: $0.directory, rate: $0.rate, active: $0.active, error: $0.error)
            },
            last_reload_failure: service.lastReloadFailure.map {
                .init(directory: $0.directory, error: $0.message, at: ISO8601DateFormatter().string(from: $0.at))
            })
        return try! encoder.encode(document)
    }

    private static func infoModel(_ model: ActiveModel) -> InfoDocument.Model {
        let config = model.scorer.model.config
        let precision = model.scorer.model.precision
        return .init(
            name: model.name, directory: model.directory, weightsSHA256: model.weightsSHA256,
            loadedAt: ISO8601DateFormatter().string(from: model.loadedAt), loadSeconds: model.loadSeconds,
            config: .init(
                vocab_size: config.vocabSize, d_model: config.dModel, d_kv: config.dKV, d_ff: config.dFF,
                num_heads: config.numHeads, num_layers: config.numLayers,
                num_decoder_layers: config.numDecoderLayers,
                relative_attention_num_buckets: config.relativeAttentionNumBuckets,
                relative_attention_max_distance: config.relativeAttentionMaxDistance,
                feed_forward_proj: config.feedForward.rawValue, output_projection: config.outputProjection.rawValue,
                scale_decoder_outputs: config.scaleDecoderOutputs, output_rule: config.outputRule,
                decoder_start_token_id: config.decoderStartTokenID),
            precision: precision.rawValue, int8WeightLevels: precision == .int8 ? T5Model.int8WeightLevels : nil,
            kernels: T5Model.kernelISA)
    }
}
