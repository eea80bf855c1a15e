/// Offsets (in floats) of one attention block's projections inside the parameter block.
struct AttentionOffsets {
    var q: Int  // [inner, d_model]
    var k: Int  // [inner, d_model]
    var v: Int  // [inner, d_model]
    var o: Int  // [d_model, inner]
}

/// Offsets of one feed-forward block; `wi1` is nil for the ungated (relu) variant, whose `wi0` is HF's `wi`.
struct FeedForwardOffsets {
    var wi0: Int  // [d_ff, d_model]
    var wi1: Int?  // [d_ff, d_model]
    var wo: Int  // [d_model, d_ff]
}

struct EncoderLayerOffsets {
    var selfAttentionNorm: Int
    var selfAttention: AttentionOffsets
    var feedForwardNorm: Int
    var feedForward: FeedForwardOffsets
}

struct DecoderLayerOffsets {
    var selfAttentionNorm: Int
    var selfAttention: AttentionOffsets
    var crossAttentionNorm: Int
    var crossAttention: AttentionOffsets
    var feedForwardNorm: Int
    var feedForward: FeedForwardOffsets
}

/// Where every checkpoint tensor lives in the single contiguous fp32 parameter block (llm.c style).
/// `tensors` lists them in block order with their Hugging Face names and shapes.
struct T5ParameterLayout {
    struct Tensor: Equatable {
        var name: String
        var shape: [Int]
        var offset: Int
        var count: Int { shape.reduce(1, *) }
    }

    private(set) var tensors: [Tensor] = []
    private(set) var parameterCount = 0
    let shared: Int  // [vocab, d_model]
    let lmHead: Int  // [vocab, d_model]; equals `shared` when that table is the output projection
    let encoderPositionBias: Int  // [buckets, heads]
    let encoderLayers: [EncoderLayerOffsets]
    let encoderFinalNorm: Int
    let decoderPositionBias: Int
    let decoderLayers: [DecoderLayerOffsets]
    let decoderFinalNorm: Int

    /// Throws `invalidConfig` if the sizes overflow (impossible within `T5Config.bounds`; checked anyway,
    /// since the block is allocated from this count).
    init(config c: T5Config) throws {
        var tensors: [Tensor] = []
        var total = 0
        var overflowed = false
        func add(_ name: String, _ shape: [Int]) -> Int {
            var count = 1
            for dimension in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
                overflowed = overflowed || overflow
                count = product
            }
            tensors.append(Tensor(name: name, shape: shape, offset: total))
            let (sum, overflow) = total.addingReportingOverflow(count)
            overflowed = overflowed || overflow
            total = sum
            return tensors.last!.offset
        }
        func attention(_ prefix: String) -> AttentionOffsets {
            AttentionOffsets(
                q: add("\(prefix).q.weight", [c.innerDim, c.dModel]), k: add("\(prefix).k.weight", [c.innerDim, c.dModel]),
                v: add("\(prefix).v.weight", [c.innerDim, c.dModel]), o: add("\(prefix).o.weight", [c.dModel, c.innerDim]))
        }
        func feedForward(_ prefix: String) -> FeedForwardOffsets {
            switch c.feedForward {
            case .gatedGelu:
                return FeedForwardOffsets(
                    wi0: add("\(prefix).wi_0.weight", [c.dFF, c.dModel]), wi1: add("\(prefix).wi_1.weight", [c.dFF, c.dModel]),
                    wo: add("\(prefix).wo.weight", [c.dModel, c.dFF]))
            case .relu:
                return FeedForwardOffsets(
                    wi0: add("\(prefix).wi.weight", [c.dFF, c.dModel]), wi1: nil, wo: add("\(prefix).wo.weight", [c.dModel, c.dFF]))
            }
        }
        let positionBiasShape = [c.relativeAttentionNumBuckets, c.numHeads]

        shared = add("shared.weight", [c.vocabSize, c.dModel])
        lmHead = c.outputProjection == .sharedEmbedding ? shared : add("lm_head.weight", [c.vocabSize, c.dModel])

        var encoderPositionBias = 0
        var encoderLayers: [EncoderLayerOffsets] = []
        for i in 0..<c.numLayers {
            let block = "encoder.block.\(i)"
            let norm0 = add("\(block).layer.0.layer_norm.weight", [c.dModel])
            let selfAttention = attention("\(block).layer.0.SelfAttention")
            if i == 0 {
                encoderPositionBias = add("\(block).layer.0.SelfAttention.relative_attention_bias.weight", positionBiasShape)
            }
            let norm1 = add("\(block).layer.1.layer_norm.weight", [c.dModel])
            let ffn = feedForward("\(block).layer.1.DenseReluDense")
            encoderLayers.append(EncoderLayerOffsets(
                selfAttentionNorm: norm0, selfAttention: selfAttention, feedForwardNorm: norm1, feedForward: ffn))
        }
        encoderFinalNorm = add("encoder.final_layer_norm.weight", [c.dModel])

        var decoderPositionBias = 0
        var decoderLayers: [DecoderLayerOffsets] = []
        for i in 0..<c.numDecoderLayers {
            let block = "decoder.block.\(i)"
            let norm0 = add("\(block).layer.0.layer_norm.weight", [c.dModel])
            let selfAttention = attention("\(block).layer.0.SelfAttention")
            if i == 0 {
                decoderPositionBias = add("\(block).layer.0.SelfAttention.relative_attention_bias.weight", positionBiasShape)
            }
            let norm1 = add("\(block).layer.1.layer_norm.weight", [c.dModel])
            let crossAttention = attention("\(block).layer.1.EncDecAttention")
            let norm2 = add("\(block).layer.2.layer_norm.weight", [c.dModel])
            let ffn = feedForward("\(block).layer.2.DenseReluDense")
            decoderLayers.append(DecoderLayerOffsets(
                selfAttentionNorm: norm0, selfAttention: selfAttention, crossAttentionNorm: norm1,
                crossAttention: crossAttention, feedForwardNorm: norm2, feedForward: ffn))
        }
        decoderFinalNorm = add("decoder.final_layer_norm.weight", [c.dModel])

        self.encoderPositionBias = encoderPositionBias
        self.encoderLayers = encoderLayers
        self.decoderPositionBias = decoderPositionBias
        self.decoderLayers = decoderLayers
        guard !overflowed else {
            throw CheckpointError.invalidConfig(path: "<config>", reason: "the parameter count overflows a 64-bit integer")
        }
        self.tensors = tensors
        self.parameterCount = total
    }
}
