import Foundation

/// A T5 being trained for pointwise scoring: its own mutable parameter block and a gradient block of the same
/// layout (llm.c style). `forward` runs the encoder over each input and one decoder step from the start token,
/// keeping what `backward` needs; `backward` accumulates into `gradients`. One thread at a time; the GEMMs use
/// OpenBLAS's threads.
public final class T5TrainingModel {
    public let config: T5Config
    let layout: T5ParameterLayout
    public let parameters: UnsafeMutableBufferPointer<Float>
    public let gradients: UnsafeMutableBufferPointer<Float>

    /// Starts from the weights of `model`.
    public init(copying model: T5Model) {
        config = model.config
        layout = model.layout
        parameters = .allocate(capacity: layout.parameterCount)
        _ = parameters.initialize(from: UnsafeBufferPointer(start: model.parameterBlock, count: layout.parameterCount))
        gradients = .allocate(capacity: layout.parameterCount)
        gradients.initialize(repeating: 0)
    }

    deinit {
        parameters.deallocate()
        gradients.deallocate()
        for (pointer, _) in spare { pointer.deallocate() }
    }

    /// The buffers of the last pass, kept for the next: a step allocates nearly the same large buffers as the
    /// one before, and fresh ones cost page faults on zeroed pages (15% of a step at flan-t5-small).
    private var spare: [(pointer: UnsafeMutablePointer<Float>, capacity: Int)] = []

    /// A zeroed buffer of at least `count` floats: a spare one at most half as large again, else a new one.
    func takeBuffer(_ count: Int) -> (pointer: UnsafeMutablePointer<Float>, capacity: Int) {
        let count = max(count, 1)
        let fitting = spare.indices.filter { spare[$0].capacity >= count && spare[$0].capacity <= count + count / 2 }
        if let best = fitting.min(by: { spare[$0].capacity < spare[$1].capacity }) {
            let buffer = spare.remove(at: best)
            buffer.pointer.update(repeating: 0, count: count)
            return buffer
        }
        let pointer = UnsafeMutablePointer<Float>.allocate(capacity: count)
        pointer.initialize(repeating: 0, count: count)
        return (pointer, count)
    }

    /// A finished pass hands back its buffers; the spares it did not use are freed.
    func recycle(_ buffers: [(pointer: UnsafeMutablePointer<Float>, capacity: Int)]) {
        for (pointer, _) in spare { pointer.deallocate() }
        spare = buffers
    }

    /// Every tensor in block order: its Hugging Face name, shape and offset into `parameters` / `gradients`.
    public var tensors: [(name: String, shape: [Int], offset: Int)] { layout.tensors.map { ($0.name, $0.shape, $0.offset) } }

    public func zeroGradients() { gradients.update(repeating: 0) }

    /// A scoring model with the current weights.
    public func inferenceModel() throws -> T5Model {
        try T5Model(config: config) { name, _, destination in
            let tensor = layout.tensors.first { $0.name == name }!
            _ = destination.initialize(from: UnsafeBufferPointer(rebasing: parameters[tensor.offset..<(tensor.offset + tensor.count)]))
        }
    }

    /// Logits of `vocabIDs` at the first decoder step (decoder input = [start]) for each input. With a
    /// `dropoutRate` above 0, dropout is applied where transformers' T5 applies it in training (embeddings,
    /// attention probabilities, each sublayer's output, the feed-forward hidden state, the final states),
    /// with masks drawn from `dropoutSeed`.
    public func forward(inputs: [[Int32]], vocabIDs: [Int32], dropoutRate: Float = 0, dropoutSeed: UInt64 = 0)
        throws(T5InputError) -> T5TrainingPass
    {
        let vocab = Int32(config.vocabSize)
        for id in vocabIDs where id < 0 || id >= vocab { throw .tokenOutsideVocabulary(id: id, vocabSize: config.vocabSize) }
        for (index, input) in inputs.enumerated() {
            guard !input.isEmpty else { throw .emptyInput(index: index) }
            for id in input where id < 0 || id >= vocab { throw .tokenOutsideVocabulary(id: id, vocabSize: config.vocabSize) }
        }
        let pass = T5TrainingPass(model: self, inputs: inputs, vocabIDs: vocabIDs,
                                  dropout: DropoutMasks(rate: dropoutRate, seed: dropoutSeed))
        pass.forward()
        return pass
    }

    var weights: T5Weights { T5Weights(config: config, layout: layout, base: UnsafePointer(parameters.baseAddress!)) }
}

/// One batch's activations, kept from `forward` for `backward`.
public final class T5TrainingPass {
    let model: T5TrainingModel
    let inputs: [[Int32]]
    let vocabIDs: [Int32]
    let pack: PackedSequences
    /// [inputs.count][vocabIDs.count].
    public private(set) var logits: [[Float]] = []
    private var buffers: [(pointer: UnsafeMutablePointer<Float>, capacity: Int)] = []

    struct EncoderLayerCache {
        var input, normed1, qkv, attended, middle, normed2, pre, activated: UnsafeMutablePointer<Float>
    }

    struct DecoderLayerCache {
        var input, normed1, qkv, attended1, middle1, normed2, query, crossKV, attended2, middle2, normed3, pre,
            activated: UnsafeMutablePointer<Float>
    }

    private var encoderLayers: [EncoderLayerCache] = []
    private var decoderLayers: [DecoderLayerCache] = []
    private var encoderFinalInput: UnsafeMutablePointer<Float>!
    private var encoded: UnsafeMutablePointer<Float>!
    private var decoderFinalInput: UnsafeMutablePointer<Float>!
    private var decoded: UnsafeMutablePointer<Float>!
    private var encoderBias: UnsafeMutablePointer<Float>!
    private var decoderBias: UnsafeMutablePointer<Float>!

    let dropout: DropoutMasks

    init(model: T5TrainingModel, inputs: [[Int32]], vocabIDs: [Int32], dropout: DropoutMasks) {
        self.model = model
        self.dropout = dropout
        self.inputs = inputs
        self.vocabIDs = vocabIDs
        self.pack = PackedSequences(lengths: inputs.map(\.count))
    }

    deinit {
        model.recycle(buffers)
    }

    /// A zeroed buffer that lives as long as the pass (then serves the next one).
    private func buffer(_ count: Int) -> UnsafeMutablePointer<Float> {
        let buffer = model.takeBuffer(count)
        buffers.append(buffer)
        return buffer.pointer
    }

    /// Scratch that every layer's forward reuses (the encoder's rows are the most any layer has).
    private lazy var sharedScratch = (activation: buffer(max(pack.rows, inputs.count) * ffnWidth),
                                      branch: buffer(max(pack.rows, inputs.count) * c.dModel))

    private var c: T5Config { model.config }
    private var ffnWidth: Int { c.feedForward == .gatedGelu ? 2 * c.dFF : c.dFF }
    private let decoderPrefix = 1

    /// Where dropout applies: per stack (0 encoder, 1 decoder), layer (255: outside the layers) and place.
    private enum Place: Int {
        case embedding, selfAttention, hidden, feedForward, crossAttention, final, selfProbabilities, crossProbabilities
    }
    private func site(_ stack: Int, _ layer: Int, _ place: Place) -> UInt64 { DropoutMasks.site(stack, layer, place.rawValue) }

    /// The dropout of one sequence's attention probabilities, or nil when dropout is off.
    private func probabilityDropout(_ site: UInt64, sequence: Int) -> (masks: DropoutMasks, site: UInt64)? {
        dropout.isActive ? (dropout, site &+ UInt64(sequence) << 40) : nil
    }

    func forward() {
        let w = model.weights
        let rows = pack.rows, n = inputs.count, d = c.dModel, inner = c.innerDim
        let scores = buffer(pack.maxLength * pack.maxLength)
        encoderBias = buffer(c.numHeads * (2 * pack.maxLength - 1))
        relative_position_bias_forward(
            encoderBias, w[w.layout.encoderPositionBias], maxLength: pack.maxLength, heads: c.numHeads,
            bidirectional: true, numBuckets: c.relativeAttentionNumBuckets, maxDistance: c.relativeAttentionMaxDistance)
        let encoderPositions = PositionBias(values: encoderBias, maxLength: pack.maxLength)

        let encoderSequences = Array(zip(pack.offsets, pack.lengths))
        var x = buffer(rows * d)
        for (s, ids) in inputs.enumerated() {
            embedding_forward(x + pack.offsets[s] * d, ids: ids, table: w[w.layout.shared], dim: d)
        }
        dropout.apply(x, count: rows * d, site: site(0, 255, .embedding))
        for (index, layer) in w.layout.encoderLayers.enumerated() {
            let cache = EncoderLayerCache(
                input: x, normed1: buffer(rows * d), qkv: buffer(rows * 3 * inner), attended: buffer(rows * inner),
                middle: buffer(rows * d), normed2: buffer(rows * d), pre: buffer(rows * ffnWidth),
                activated: buffer(rows * c.dFF))
            selfAttentionForward(input: x, normed: cache.normed1, qkv: cache.qkv, attended: cache.attended,
                                 output: cache.middle, attention: layer.selfAttention, norm: layer.selfAttentionNorm,
                                 sequences: encoderSequences, positions: encoderPositions, causal: false, scores: scores,
                                 site: site(0, index, .selfAttention), probabilitySite: site(0, index, .selfProbabilities))
            x = feedForwardSublayer(input: cache.middle, normed: cache.normed2, pre: cache.pre, activated: cache.activated,
                                    norm: layer.feedForwardNorm, ffn: layer.feedForward, rows: rows,
                                    sites: (site(0, index, .hidden), site(0, index, .feedForward)))
            encoderLayers.append(cache)
        }
        encoderFinalInput = x
        encoded = buffer(rows * d)
        rmsnorm_forward(encoded, x, w[w.layout.encoderFinalNorm], rows: rows, dim: d, eps: c.layerNormEpsilon)
        dropout.apply(encoded, count: rows * d, site: site(0, 255, .final))

        // The decoder: one position per input, fed the start token.
        decoderBias = buffer(c.numHeads)
        relative_position_bias_forward(
            decoderBias, w[w.layout.decoderPositionBias], maxLength: decoderPrefix, heads: c.numHeads,
            bidirectional: false, numBuckets: c.relativeAttentionNumBuckets, maxDistance: c.relativeAttentionMaxDistance)
        let decoderPositions = PositionBias(values: decoderBias, maxLength: decoderPrefix)
        let decoderSequences = (0..<n).map { ($0, decoderPrefix) }
        var y = buffer(n * d)
        for s in 0..<n { embedding_forward(y + s * d, ids: [c.decoderStartTokenID], table: w[w.layout.shared], dim: d) }
        dropout.apply(y, count: n * d, site: site(1, 255, .embedding))
        for (index, layer) in w.layout.decoderLayers.enumerated() {
            let cache = DecoderLayerCache(
                input: y, normed1: buffer(n * d), qkv: buffer(n * 3 * inner), attended1: buffer(n * inner),
                middle1: buffer(n * d), normed2: buffer(n * d), query: buffer(n * inner), crossKV: buffer(rows * 2 * inner),
                attended2: buffer(n * inner), middle2: buffer(n * d), normed3: buffer(n * d), pre: buffer(n * ffnWidth),
                activated: buffer(n * c.dFF))
            selfAttentionForward(input: y, normed: cache.normed1, qkv: cache.qkv, attended: cache.attended1,
                                 output: cache.middle1, attention: layer.selfAttention, norm: layer.selfAttentionNorm,
                                 sequences: decoderSequences, positions: decoderPositions, causal: true, scores: scores,
                                 site: site(1, index, .selfAttention), probabilitySite: site(1, index, .selfProbabilities))

            let cross = layer.crossAttention
            rmsnorm_forward(cache.normed2, cache.middle1, w[layer.crossAttentionNorm], rows: n, dim: d, eps: c.layerNormEpsilon)
            matmul_forward(cache.query, cache.normed2, w[cross.q], rows: n, inDim: d, outDim: inner)
            matmul_forward(cache.crossKV, encoded, w[cross.k], rows: rows, inDim: d, outDim: 2 * inner)
            for (s, (offset, length)) in zip(pack.offsets, pack.lengths).enumerated() {
                let keys = cache.crossKV + offset * 2 * inner
                attention_forward(
                    cache.attended2 + s * inner, ldOut: inner, q: cache.query + s * inner, ldq: inner, k: keys,
                    ldk: 2 * inner, v: keys + inner, ldv: 2 * inner, positionBias: nil, queryLength: 1,
                    keyLength: length, heads: c.numHeads, dKV: c.dKV, causal: false, scores: scores,
                    dropout: probabilityDropout(site(1, index, .crossProbabilities), sequence: s))
            }
            addBranch(to: cache.middle2, input: cache.middle1, attended: cache.attended2, weight: cross.o, rows: n,
                      inDim: inner, site: site(1, index, .crossAttention))

            y = feedForwardSublayer(input: cache.middle2, normed: cache.normed3, pre: cache.pre, activated: cache.activated,
                                    norm: layer.feedForwardNorm, ffn: layer.feedForward, rows: n,
                                    sites: (site(1, index, .hidden), site(1, index, .feedForward)))
            decoderLayers.append(cache)
        }
        decoderFinalInput = y
        decoded = buffer(n * d)
        rmsnorm_forward(decoded, y, w[w.layout.decoderFinalNorm], rows: n, dim: d, eps: c.layerNormEpsilon)
        dropout.apply(decoded, count: n * d, site: site(1, 255, .final))
        logits = (0..<n).map { lm_head_forward(hidden: decoded + $0 * d, vocabIDs: vocabIDs, weights: w) }
    }

    /// output = input + o(attention(qkv(rmsnorm(input)))) over each (row offset, length) sequence.
    private func selfAttentionForward(input: UnsafePointer<Float>, normed: UnsafeMutablePointer<Float>,
                                      qkv: UnsafeMutablePointer<Float>, attended: UnsafeMutablePointer<Float>,
                                      output: UnsafeMutablePointer<Float>, attention: AttentionOffsets, norm: Int,
                                      sequences: [(Int, Int)], positions: PositionBias, causal: Bool,
                                      scores: UnsafeMutablePointer<Float>, site: UInt64, probabilitySite: UInt64) {
        let w = model.weights, d = c.dModel, inner = c.innerDim
        let rows = sequences.map { $0.0 + $0.1 }.max() ?? 0
        rmsnorm_forward(normed, input, w[norm], rows: rows, dim: d, eps: c.layerNormEpsilon)
        matmul_forward(qkv, normed, w[attention.q], rows: rows, inDim: d, outDim: 3 * inner)
        for (sequence, (offset, length)) in sequences.enumerated() {
            let base = qkv + offset * 3 * inner
            attention_forward(
                attended + offset * inner, ldOut: inner, q: base, ldq: 3 * inner, k: base + inner, ldk: 3 * inner,
                v: base + 2 * inner, ldv: 3 * inner, positionBias: positions, queryLength: length, keyLength: length,
                heads: c.numHeads, dKV: c.dKV, causal: causal, scores: scores,
                dropout: probabilityDropout(probabilitySite, sequence: sequence))
        }
        addBranch(to: output, input: input, attended: attended, weight: attention.o, rows: rows, inDim: inner, site: site)
    }

    /// output = input + dropout(attended · weight^T): a sublayer's residual connection.
    private func addBranch(to output: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                           attended: UnsafePointer<Float>, weight: Int, rows: Int, inDim: Int, site: UInt64) {
        let w = model.weights, d = c.dModel
        output.update(from: input, count: rows * d)
        guard dropout.isActive else {
            return matmul_forward(output, attended, w[weight], rows: rows, inDim: inDim, outDim: d, accumulate: true)
        }
        let branch = sharedScratch.branch
        matmul_forward(branch, attended, w[weight], rows: rows, inDim: inDim, outDim: d)
        dropout.apply(branch, count: rows * d, site: site)
        for i in 0..<(rows * d) { output[i] += branch[i] }
    }

    /// A new residual buffer: input + wo(act(wi rmsnorm(input))), keeping what backward needs.
    private func feedForwardSublayer(input: UnsafePointer<Float>, normed: UnsafeMutablePointer<Float>,
                                     pre: UnsafeMutablePointer<Float>, activated: UnsafeMutablePointer<Float>,
                                     norm: Int, ffn: FeedForwardOffsets, rows: Int,
                                     sites: (hidden: UInt64, output: UInt64)) -> UnsafeMutablePointer<Float> {
        let w = model.weights, d = c.dModel, width = ffnWidth
        rmsnorm_forward(normed, input, w[norm], rows: rows, dim: d, eps: c.layerNormEpsilon)
        let residual = buffer(rows * d)
        matmul_forward(pre, normed, w[ffn.wi0], rows: rows, inDim: d, outDim: width)
        let scratch = sharedScratch.activation
        scratch.update(from: pre, count: rows * width)
        switch c.feedForward {
        case .gatedGelu:
            gated_gelu_forward(scratch, rows: rows, dFF: c.dFF)
            for r in 0..<rows { (activated + r * c.dFF).update(from: scratch + r * width, count: c.dFF) }
        case .relu:
            relu_forward(scratch, count: rows * width)
            activated.update(from: scratch, count: rows * width)
        }
        dropout.apply(activated, count: rows * c.dFF, site: sites.hidden)
        addBranch(to: residual, input: input, attended: activated, weight: ffn.wo, rows: rows, inDim: c.dFF,
                  site: sites.output)
        return residual
    }

    /// Accumulates d(loss)/d(parameters) into the model's gradients, given d(loss)/d(logits).
    public func backward(dLogits: [[Float]]) {
        precondition(dLogits.count == inputs.count && dLogits.allSatisfy { $0.count == vocabIDs.count })
        let w = model.weights
        let grad = model.gradients.baseAddress!
        let rows = pack.rows, n = inputs.count, d = c.dModel, inner = c.innerDim
        let scale: Float = c.scaleDecoderOutputs ? Float(pow(Double(d), -0.5)) : 1
        let scores = buffer(pack.maxLength * pack.maxLength)
        let dProbabilities = buffer(pack.maxLength * pack.maxLength)

        // lm_head rows and the decoder's final norm.
        let dDecoded = buffer(n * d)
        let head = w[w.layout.lmHead]
        for s in 0..<n {
            for (j, id) in vocabIDs.enumerated() where dLogits[s][j] != 0 {
                let g = dLogits[s][j] * scale
                let row = head + Int(id) * d, dRow = grad + w.layout.lmHead + Int(id) * d
                for i in 0..<d {
                    dDecoded[s * d + i] += g * row[i]
                    dRow[i] += g * decoded[s * d + i]
                }
            }
        }
        dropout.apply(dDecoded, count: n * d, site: site(1, 255, .final))
        let dY = buffer(n * d)
        rmsnorm_backward(dInp: dY, dWeight: grad + w.layout.decoderFinalNorm, dOut: dDecoded, inp: decoderFinalInput,
                         weight: w[w.layout.decoderFinalNorm], rows: n, dim: d, eps: c.layerNormEpsilon)

        let dEncoded = buffer(rows * d)
        let dDecoderRelative = buffer(c.numHeads)
        let decoderPositions = PositionBias(values: decoderBias, maxLength: decoderPrefix)
        let decoderSequences = (0..<n).map { ($0, decoderPrefix) }
        let dNormed = buffer(max(rows, n) * d)
        let dAttended = buffer(max(rows, n) * inner)
        let dQKV = buffer(max(rows, n) * 3 * inner)
        let work = BackwardScratch(dNormed: dNormed, dAttended: dAttended, dQKV: dQKV, dPre: buffer(max(rows, n) * ffnWidth),
                                   dActivated: buffer(max(rows, n) * c.dFF), dBranch: buffer(max(rows, n) * d),
                                   scores: scores, dProbabilities: dProbabilities,
                                   dropped: buffer(pack.maxLength * pack.maxLength))
        for (index, (layer, cache)) in zip(w.layout.decoderLayers, decoderLayers).enumerated().reversed() {
            feedForwardBackward(dResidual: dY, pre: cache.pre, activated: cache.activated, normed: cache.normed3,
                                normInput: cache.middle2, norm: layer.feedForwardNorm, ffn: layer.feedForward, rows: n,
                                work: work,
                                sites: (site(1, index, .hidden), site(1, index, .feedForward)))

            let cross = layer.crossAttention
            dAttended.update(repeating: 0, count: n * inner)
            matmul_backward(dInp: dAttended, dWeight: grad + cross.o,
                            dOut: branchGradient(dY, rows: n, site: site(1, index, .crossAttention), work: work),
                            inp: cache.attended2, weight: w[cross.o], rows: n, inDim: inner, outDim: d)
            let dQuery = dQKV
            dQuery.update(repeating: 0, count: n * inner)
            let dCrossKV = buffer(rows * 2 * inner)
            for (s, (offset, length)) in zip(pack.offsets, pack.lengths).enumerated() {
                let keys = cache.crossKV + offset * 2 * inner, dKeys = dCrossKV + offset * 2 * inner
                attention_backward(
                    dq: dQuery + s * inner, dk: dKeys, dv: dKeys + inner, dRelative: nil, dOut: dAttended + s * inner,
                    ldDOut: inner, q: cache.query + s * inner, ldq: inner, k: keys, ldk: 2 * inner, v: keys + inner,
                    ldv: 2 * inner, positionBias: nil, queryLength: 1, keyLength: length, heads: c.numHeads, dKV: c.dKV,
                    causal: false, scores: scores, dProbabilities: dProbabilities,
                    dropout: probabilityDropout(site(1, index, .crossProbabilities), sequence: s).map {
                        ($0.masks, $0.site, work.dropped)
                    })
            }
            matmul_backward(dInp: dEncoded, dWeight: grad + cross.k, dOut: dCrossKV, inp: encoded, weight: w[cross.k],
                            rows: rows, inDim: d, outDim: 2 * inner)
            dNormed.update(repeating: 0, count: n * d)
            matmul_backward(dInp: dNormed, dWeight: grad + cross.q, dOut: dQuery, inp: cache.normed2, weight: w[cross.q],
                            rows: n, inDim: d, outDim: inner)
            rmsnorm_backward(dInp: dY, dWeight: grad + layer.crossAttentionNorm, dOut: dNormed, inp: cache.middle1,
                             weight: w[layer.crossAttentionNorm], rows: n, dim: d, eps: c.layerNormEpsilon)

            selfAttentionBackward(dResidual: dY, input: cache.input, normed: cache.normed1, qkv: cache.qkv,
                                  attended: cache.attended1, attention: layer.selfAttention, norm: layer.selfAttentionNorm,
                                  sequences: decoderSequences, positions: decoderPositions, dRelative: dDecoderRelative,
                                  causal: true, work: work, site: site(1, index, .selfAttention),
                                  probabilitySite: site(1, index, .selfProbabilities))
        }
        dropout.apply(dY, count: n * d, site: site(1, 255, .embedding))
        embedding_backward(dTable: grad + w.layout.shared, dOut: dY, ids: Array(repeating: c.decoderStartTokenID, count: n), dim: d)
        relative_position_bias_backward(
            dTable: grad + w.layout.decoderPositionBias, dRelative: dDecoderRelative, maxLength: decoderPrefix,
            heads: c.numHeads, bidirectional: false, numBuckets: c.relativeAttentionNumBuckets,
            maxDistance: c.relativeAttentionMaxDistance)

        // The encoder.
        dropout.apply(dEncoded, count: rows * d, site: site(0, 255, .final))
        let dX = buffer(rows * d)
        rmsnorm_backward(dInp: dX, dWeight: grad + w.layout.encoderFinalNorm, dOut: dEncoded, inp: encoderFinalInput,
                         weight: w[w.layout.encoderFinalNorm], rows: rows, dim: d, eps: c.layerNormEpsilon)
        let span = 2 * pack.maxLength - 1
        let dEncoderRelative = buffer(c.numHeads * span)
        let encoderPositions = PositionBias(values: encoderBias, maxLength: pack.maxLength)
        for (index, (layer, cache)) in zip(w.layout.encoderLayers, encoderLayers).enumerated().reversed() {
            feedForwardBackward(dResidual: dX, pre: cache.pre, activated: cache.activated, normed: cache.normed2,
                                normInput: cache.middle, norm: layer.feedForwardNorm, ffn: layer.feedForward, rows: rows,
                                work: work,
                                sites: (site(0, index, .hidden), site(0, index, .feedForward)))
            selfAttentionBackward(dResidual: dX, input: cache.input, normed: cache.normed1, qkv: cache.qkv,
                                  attended: cache.attended, attention: layer.selfAttention, norm: layer.selfAttentionNorm,
                                  sequences: Array(zip(pack.offsets, pack.lengths)), positions: encoderPositions,
                                  dRelative: dEncoderRelative, causal: false, work: work, site: site(0, index, .selfAttention),
                                  probabilitySite: site(0, index, .selfProbabilities))
        }
        dropout.apply(dX, count: rows * d, site: site(0, 255, .embedding))
        for (s, ids) in inputs.enumerated() {
            embedding_backward(dTable: grad + w.layout.shared, dOut: dX + pack.offsets[s] * d, ids: ids, dim: d)
        }
        relative_position_bias_backward(
            dTable: grad + w.layout.encoderPositionBias, dRelative: dEncoderRelative, maxLength: pack.maxLength,
            heads: c.numHeads, bidirectional: true, numBuckets: c.relativeAttentionNumBuckets,
            maxDistance: c.relativeAttentionMaxDistance)
    }

    /// Scratch every layer's backward reuses.
    struct BackwardScratch {
        let dNormed, dAttended, dQKV, dPre, dActivated, dBranch, scores, dProbabilities, dropped: UnsafeMutablePointer<Float>
    }

    /// d(branch) of `output = input + dropout(branch)`: dResidual itself without dropout, else a masked copy.
    private func branchGradient(_ dResidual: UnsafeMutablePointer<Float>, rows: Int, site: UInt64,
                                work: BackwardScratch) -> UnsafeMutablePointer<Float> {
        guard dropout.isActive else { return dResidual }
        work.dBranch.update(from: dResidual, count: rows * c.dModel)
        dropout.apply(work.dBranch, count: rows * c.dModel, site: site)
        return work.dBranch
    }

    /// Backward of `selfAttentionForward`: dResidual (d output) gains the path through the sublayer.
    private func selfAttentionBackward(dResidual: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                                       normed: UnsafePointer<Float>, qkv: UnsafePointer<Float>,
                                       attended: UnsafePointer<Float>, attention: AttentionOffsets, norm: Int,
                                       sequences: [(Int, Int)], positions: PositionBias,
                                       dRelative: UnsafeMutablePointer<Float>, causal: Bool, work: BackwardScratch,
                                       site: UInt64, probabilitySite: UInt64) {
        let w = model.weights, grad = model.gradients.baseAddress!, d = c.dModel, inner = c.innerDim
        let rows = sequences.map { $0.0 + $0.1 }.max() ?? 0
        work.dAttended.update(repeating: 0, count: rows * inner)
        matmul_backward(dInp: work.dAttended, dWeight: grad + attention.o,
                        dOut: branchGradient(dResidual, rows: rows, site: site, work: work), inp: attended,
                        weight: w[attention.o], rows: rows, inDim: inner, outDim: d)
        work.dQKV.update(repeating: 0, count: rows * 3 * inner)
        for (sequence, (offset, length)) in sequences.enumerated() {
            let base = qkv + offset * 3 * inner, dBase = work.dQKV + offset * 3 * inner
            attention_backward(
                dq: dBase, dk: dBase + inner, dv: dBase + 2 * inner, dRelative: dRelative,
                dOut: work.dAttended + offset * inner, ldDOut: inner, q: base, ldq: 3 * inner, k: base + inner,
                ldk: 3 * inner, v: base + 2 * inner, ldv: 3 * inner, positionBias: positions, queryLength: length,
                keyLength: length, heads: c.numHeads, dKV: c.dKV, causal: causal, scores: work.scores,
                dProbabilities: work.dProbabilities,
                dropout: probabilityDropout(probabilitySite, sequence: sequence).map { ($0.masks, $0.site, work.dropped) })
        }
        work.dNormed.update(repeating: 0, count: rows * d)
        matmul_backward(dInp: work.dNormed, dWeight: grad + attention.q, dOut: work.dQKV, inp: normed,
                        weight: w[attention.q], rows: rows, inDim: d, outDim: 3 * inner)
        rmsnorm_backward(dInp: dResidual, dWeight: grad + norm, dOut: work.dNormed, inp: input, weight: w[norm],
                         rows: rows, dim: d, eps: c.layerNormEpsilon)
    }

    /// Backward of `residual += wo(act(wi rmsnorm(normInput)))`: dResidual gains the path through the block.
    private func feedForwardBackward(dResidual: UnsafeMutablePointer<Float>, pre: UnsafePointer<Float>,
                                     activated: UnsafePointer<Float>, normed: UnsafePointer<Float>,
                                     normInput: UnsafePointer<Float>, norm: Int, ffn: FeedForwardOffsets, rows: Int,
                                     work: BackwardScratch,
                                     sites: (hidden: UInt64, output: UInt64)) {
        let w = model.weights, grad = model.gradients.baseAddress!
        let d = c.dModel, width = ffnWidth
        let (dNormed, dPre, dActivated) = (work.dNormed, work.dPre, work.dActivated)
        dActivated.update(repeating: 0, count: rows * c.dFF)
        matmul_backward(dInp: dActivated, dWeight: grad + ffn.wo,
                        dOut: branchGradient(dResidual, rows: rows, site: sites.output, work: work), inp: activated,
                        weight: w[ffn.wo], rows: rows, inDim: c.dFF, outDim: d)
        dropout.apply(dActivated, count: rows * c.dFF, site: sites.hidden)
        switch c.feedForward {
        case .gatedGelu: gated_gelu_backward(dPre: dPre, dH: dActivated, pre: pre, rows: rows, dFF: c.dFF)
        case .relu: relu_backward(dPre: dPre, dH: dActivated, pre: pre, count: rows * c.dFF)
        }
        dNormed.update(repeating: 0, count: rows * d)
        matmul_backward(dInp: dNormed, dWeight: grad + ffn.wi0, dOut: dPre, inp: normed, weight: w[ffn.wi0],
                        rows: rows, inDim: d, outDim: width)
        rmsnorm_backward(dInp: dResidual, dWeight: grad + norm, dOut: dNormed, inp: normInput, weight: w[norm],
                         rows: rows, dim: d, eps: c.layerNormEpsilon)
    }
}
