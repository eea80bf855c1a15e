import FileReading
import Foundation

/// Hyper-parameters of a T5 encoder-decoder, as read from a Hugging Face `config.json`.
public struct T5Config: Equatable, Sendable {
    /// The feed-forward block: FLAN-T5 / T5 v1.1 use `wo(gelu_tanh(wi_0 x) * wi_1 x)`, original T5 `wo(relu(wi x))`.
    public enum FeedForward: String, Equatable, Sendable {
        case gatedGelu = "gated-gelu"
        case relu = "relu"
    }

    /// Which table projects the final decoder state onto the vocabulary.
    public enum OutputProjection: String, Equatable, Sendable {
        /// The input embedding table, `shared.weight` (tied embeddings).
        case sharedEmbedding = "shared.weight"
        /// A separate `lm_head.weight` stored in the checkpoint.
        case lmHead = "lm_head.weight"
    }

    /// Where `scaleDecoderOutputs` came from: the two generations of `transformers` say it differently.
    public enum ScaleRule: String, Equatable, Sendable {
        /// `scale_decoder_outputs` in config.json (written by transformers 5).
        case scaleDecoderOutputsKey = "scale_decoder_outputs (transformers 5)"
        /// No such key: scaled iff `tie_word_embeddings`, default true (transformers 4).
        case tieWordEmbeddingsKey = "tie_word_embeddings (transformers 4)"
        /// Set by the caller, not read from a file.
        case explicit = "set explicitly"
    }

    public var vocabSize: Int
    public var dModel: Int
    public var dKV: Int
    public var dFF: Int
    public var numHeads: Int
    public var numLayers: Int
    public var numDecoderLayers: Int
    public var relativeAttentionNumBuckets: Int
    public var relativeAttentionMaxDistance: Int
    public var layerNormEpsilon: Float
    public var feedForward: FeedForward
    public var outputProjection: OutputProjection
    /// Multiply the final decoder state by d_model^-0.5 before projecting (original T5 did, T5 v1.1 does not).
    public var scaleDecoderOutputs: Bool
    public var scaleRule: ScaleRule
    public var decoderStartTokenID: Int32
    /// Training only: `dropout_rate` (transformers' default 0.1); scoring never drops anything.
    public var dropoutRate: Float = 0.1

    public init(vocabSize: Int, dModel: Int, dKV: Int, dFF: Int, numHeads: Int, numLayers: Int,
                numDecoderLayers: Int? = nil, relativeAttentionNumBuckets: Int = 32,
                relativeAttentionMaxDistance: Int = 128, layerNormEpsilon: Float = 1e-6,
                feedForward: FeedForward = .gatedGelu, outputProjection: OutputProjection = .lmHead,
                scaleDecoderOutputs: Bool = false, scaleRule: ScaleRule = .explicit, decoderStartTokenID: Int32 = 0) {
        self.vocabSize = vocabSize
        self.dModel = dModel
        self.dKV = dKV
        self.dFF = dFF
        self.numHeads = numHeads
        self.numLayers = numLayers
        self.numDecoderLayers = numDecoderLayers ?? numLayers
        self.relativeAttentionNumBuckets = relativeAttentionNumBuckets
        self.relativeAttentionMaxDistance = relativeAttentionMaxDistance
        self.layerNormEpsilon = layerNormEpsilon
        self.feedForward = feedForward
        self.outputProjection = outputProjection
        self.scaleDecoderOutputs = scaleDecoderOutputs
        self.scaleRule = scaleRule
        self.decoderStartTokenID = decoderStartTokenID
    }

    /// Width of the attention projections; need not equal `dModel`.
    public var innerDim: Int { numHeads * dKV }

    /// How the logits are formed, in words, for logs and `/info`.
    public var outputRule: String {
        let scale = scaleDecoderOutputs ? "scaled by d_model^-0.5" : "not scaled"
        return "logits = \(outputProjection.rawValue) x final decoder state, \(scale) (by \(scaleRule.rawValue))"
    }

    /// Reads and validates `config.json`. Missing keys take the defaults of `transformers.T5Config`.
    /// The output follows the rule of the transformers generation that wrote the file: the decoder state is
    /// scaled when `scale_decoder_outputs` is true (5.x) or, without that key, when `tie_word_embeddings`
    /// is (4.x, default true); the projection is `lm_head.weight` when the checkpoint stores it
    /// (`storesLMHead`, asked once config.json has parsed), else `shared.weight`, whatever
    /// `tie_word_embeddings` says.
    public static func load(from url: URL, storesLMHead: () throws -> Bool) throws -> T5Config {
        let path = url.path
        let data: Data
        do {
            data = Data(try readRegularFile(path, maxBytes: 1 << 20))
        } catch {
            throw CheckpointError.missingFile(path: path, reason: "cannot read config: \(error.reason)")
        }
        let raw: RawT5Config
        do {
            raw = try JSONDecoder().decode(RawT5Config.self, from: data)
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw CheckpointError.invalidConfig(path: path, reason: "\(key): \(context.debugDescription)")
        } catch {
            throw CheckpointError.invalidConfig(path: path, reason: "not a JSON object (\(error))")
        }
        let feedForwardName = raw.feed_forward_proj ?? "relu"
        guard let feedForward = FeedForward(rawValue: feedForwardName) else {
            throw CheckpointError.invalidConfig(
                path: path, reason: "feed_forward_proj '\(feedForwardName)' is not supported (gated-gelu, relu)")
        }
        let numLayers = raw.num_layers ?? 6
        let decoderStart = raw.decoder_start_token_id ?? raw.pad_token_id ?? 0
        guard let decoderStartTokenID = Int32(exactly: decoderStart) else {
            throw CheckpointError.invalidConfig(path: path, reason: "decoder_start_token_id \(decoderStart) is out of range")
        }
        var config = T5Config(
            vocabSize: raw.vocab_size ?? 32128, dModel: raw.d_model ?? 512, dKV: raw.d_kv ?? 64,
            dFF: raw.d_ff ?? 2048, numHeads: raw.num_heads ?? 8, numLayers: numLayers,
            numDecoderLayers: raw.num_decoder_layers ?? numLayers,
            relativeAttentionNumBuckets: raw.relative_attention_num_buckets ?? 32,
            relativeAttentionMaxDistance: raw.relative_attention_max_distance ?? 128,
            layerNormEpsilon: Float(raw.layer_norm_epsilon ?? 1e-6), feedForward: feedForward,
            outputProjection: try storesLMHead() ? .lmHead : .sharedEmbedding,
            scaleDecoderOutputs: raw.scale_decoder_outputs ?? raw.tie_word_embeddings ?? true,
            scaleRule: raw.scale_decoder_outputs != nil ? .scaleDecoderOutputsKey : .tieWordEmbeddingsKey,
            decoderStartTokenID: decoderStartTokenID)
        config.dropoutRate = Float(raw.dropout_rate ?? 0.1)
        guard (0..<1).contains(config.dropoutRate) else {
            throw CheckpointError.invalidConfig(path: path, reason: "dropout_rate must be in [0, 1), got \(config.dropoutRate)")
        }
        try config.validate(path: path)
        return config
    }

    /// Upper bounds far above any published T5 (mT5-xxl: vocab 250112, d_model 4096, d_ff 10240, 64 heads,
    /// 24 layers; byT5 up to 36 layers), so a config.json can never make the loader compute or allocate
    /// something absurd.
    nonisolated(unsafe) static let bounds: [(key: String, value: KeyPath<T5Config, Int>, max: Int)] = [  // immutable
        ("vocab_size", \.vocabSize, 1 << 21), ("d_model", \.dModel, 1 << 15), ("d_kv", \.dKV, 1 << 12),
        ("d_ff", \.dFF, 1 << 17), ("num_heads", \.numHeads, 1 << 9), ("num_layers", \.numLayers, 1 << 9),
        ("num_decoder_layers", \.numDecoderLayers, 1 << 9),
        ("relative_attention_num_buckets", \.relativeAttentionNumBuckets, 1 << 12),
        ("relative_attention_max_distance", \.relativeAttentionMaxDistance, 1 << 20),
    ]

    /// Throws `invalidConfig` unless every size is usable by the forward pass and within `bounds`.
    public func validate(path: String = "<in-memory config>") throws {
        for (key, value, limit) in Self.bounds {
            let value = self[keyPath: value]
            guard value > 0 else {
                throw CheckpointError.invalidConfig(path: path, reason: "\(key) must be positive, got \(value)")
            }
            guard value <= limit else {
                throw CheckpointError.invalidConfig(path: path, reason: "\(key) \(value) is over the limit of \(limit)")
            }
        }
        // Bucketing halves the range (twice for the bidirectional encoder); the log scale then needs max_distance beyond it.
        if relativeAttentionNumBuckets < 4 {
            throw CheckpointError.invalidConfig(
                path: path, reason: "relative_attention_num_buckets must be at least 4, got \(relativeAttentionNumBuckets)")
        }
        if relativeAttentionMaxDistance <= relativeAttentionNumBuckets / 2 {
            throw CheckpointError.invalidConfig(
                path: path,
                reason: "relative_attention_max_distance must exceed num_buckets/2, got \(relativeAttentionMaxDistance)")
        }
        if !(layerNormEpsilon > 0) || !layerNormEpsilon.isFinite {
            throw CheckpointError.invalidConfig(path: path, reason: "layer_norm_epsilon must be positive, got \(layerNormEpsilon)")
        }
        if decoderStartTokenID < 0 || Int(decoderStartTokenID) >= vocabSize {
            throw CheckpointError.invalidConfig(
                path: path, reason: "decoder_start_token_id \(decoderStartTokenID) is outside the vocabulary")
        }
    }
}

/// The keys of `config.json` that the forward pass reads; absent keys decode as nil (HF defaults apply).
private struct RawT5Config: Decodable {
    var vocab_size: Int?
    var d_model: Int?
    var d_kv: Int?
    var d_ff: Int?
    var num_heads: Int?
    var num_layers: Int?
    var num_decoder_layers: Int?
    var relative_attention_num_buckets: Int?
    var relative_attention_max_distance: Int?
    var layer_norm_epsilon: Double?
    var feed_forward_proj: String?
    var tie_word_embeddings: Bool?
    var scale_decoder_outputs: Bool?
    var decoder_start_token_id: Int?
    var pad_token_id: Int?
    var dropout_rate: Double?
}
