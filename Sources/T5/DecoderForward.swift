import Foundation

/// Runs the decoder stack on the same `prefix` for every sequence of `pack` (causal self-attention within each
/// prefix, cross-attention to that sequence's rows of `encoded`) and writes the final-normed hidden state of
/// each sequence's LAST prefix position to out: [pack.lengths.count, d_model].
/// encoded: [pack.rows, d_model] from encoder_forward. Activations live in `workspace`.
func decoder_forward(_ out: UnsafeMutablePointer<Float>, prefix: [Int32], encoded: UnsafePointer<Float>,
                     pack: PackedSequences, weights w: T5Weights, workspace: ForwardWorkspace) {
    let c = w.config
    let count = pack.lengths.count
    let length = prefix.count
    let rows = count * length
    let d = c.dModel
    let inner = c.innerDim
    let ffnWidth = c.feedForward == .gatedGelu ? 2 * c.dFF : c.dFF

    let residual = workspace.residual.reserve(rows * d)
    let normed = workspace.normed.reserve(rows * d)
    let qkv = workspace.qkv.reserve(rows * 3 * inner)
    let folded = workspace.folded.reserve(2 * c.numHeads * length * d)
    let attended = workspace.attended.reserve(rows * inner)
    let hidden = workspace.hidden.reserve(rows * ffnWidth)
    let scores = workspace.scores.reserve(length * max(length, c.numHeads * pack.maxLength))
    let biasValues = workspace.positionBias.reserve(c.numHeads * (2 * length - 1))

    for s in 0..<count {
        embedding_forward(residual + s * length * d, ids: prefix, table: w[w.layout.shared], dim: d)
    }
    relative_position_bias_forward(
        biasValues, w[w.layout.decoderPositionBias], maxLength: length, heads: c.numHeads, bidirectional: false,
        numBuckets: c.relativeAttentionNumBuckets, maxDistance: c.relativeAttentionMaxDistance)
    let positionBias = PositionBias(values: biasValues, maxLength: length)

    for layer in w.layout.decoderLayers {
        rmsnorm_forward(normed, residual, w[layer.selfAttentionNorm], rows: rows, dim: d, eps: c.layerNormEpsilon)
        w.linear(qkv, normed, layer.selfAttention.q, rows: rows, inDim: d, outDim: 3 * inner)
        for s in 0..<count {
            let base = qkv + s * length * 3 * inner
            attention_forward(
                attended + s * length * inner, ldOut: inner, q: base, ldq: 3 * inner, k: base + inner, ldk: 3 * inner,
                v: base + 2 * inner, ldv: 3 * inner, positionBias: positionBias, queryLength: length,
                keyLength: length, heads: c.numHeads, dKV: c.dKV, causal: true, scores: scores)
        }
        w.linear(residual, attended, layer.selfAttention.o, rows: rows, inDim: inner, outDim: d,
                       accumulate: true)

        // Cross-attention: q from the decoder, keys and values folded in (cross_attention_forward).
        let cross = layer.crossAttention
        rmsnorm_forward(normed, residual, w[layer.crossAttentionNorm], rows: rows, dim: d, eps: c.layerNormEpsilon)
        w.linear(qkv, normed, cross.q, rows: rows, inDim: d, outDim: inner)
        for (s, (offset, encodedLength)) in zip(pack.offsets, pack.lengths).enumerated() {
            cross_attention_forward(
                attended + s * length * inner, ldOut: inner, q: qkv + s * length * inner, ldq: inner,
                encoded: encoded + offset * d, wk: w[cross.k], wv: w[cross.v], queryLength: length,
                keyLength: encodedLength, heads: c.numHeads, dKV: c.dKV, dModel: d, folded: folded, scores: scores)
        }
        w.linear(residual, attended, cross.o, rows: rows, inDim: inner, outDim: d, accumulate: true)

        rmsnorm_forward(normed, residual, w[layer.feedForwardNorm], rows: rows, dim: d, eps: c.layerNormEpsilon)
        feed_forward_forward(residual, normed, hidden, layer.feedForward, rows: rows, weights: w)
    }
    for s in 0..<count {
        rmsnorm_forward(out + s * d, residual + (s * length + length - 1) * d, w[w.layout.decoderFinalNorm], rows: 1,
                        dim: d, eps: c.layerNormEpsilon)
    }
}

/// logits[j] = hidden · lmHead[vocabIDs[j]]: only the rows that are read, never the full vocabulary.
/// The hidden state is scaled by d_model^-0.5 first when the config says so (`T5Config.scaleDecoderOutputs`).
func lm_head_forward(hidden: UnsafePointer<Float>, vocabIDs: [Int32], weights w: T5Weights) -> [Float] {
    let c = w.config
    let d = c.dModel
    let scale: Float = c.scaleDecoderOutputs ? Float(pow(Double(d), -0.5)) : 1
    let head = w[w.layout.lmHead]
    return vocabIDs.map { id in
        let row = head + Int(id) * d
        var sum: Float = 0
        for i in 0..<d { sum += hidden[i] * scale * row[i] }
        return sum
    }
}
