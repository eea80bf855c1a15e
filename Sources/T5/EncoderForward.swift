/// Runs the encoder stack on `sequences` packed as `pack` (each at its true length, so no mask) and writes the
/// final-normed hidden states to out: [pack.rows, d_model]. Activations live in `workspace`.
func encoder_forward(_ out: UnsafeMutablePointer<Float>, sequences: [[Int32]], pack: PackedSequences,
                     weights w: T5Weights, workspace: ForwardWorkspace) {
    let c = w.config
    let rows = pack.rows
    let d = c.dModel
    let inner = c.innerDim
    let ffnWidth = c.feedForward == .gatedGelu ? 2 * c.dFF : c.dFF

    let normed = workspace.normed.reserve(rows * d)
    let qkv = workspace.qkv.reserve(rows * 3 * inner)
    let attended = workspace.attended.reserve(rows * inner)
    let hidden = workspace.hidden.reserve(rows * ffnWidth)
    let scores = workspace.scores.reserve(pack.maxLength * pack.maxLength)
    let biasValues = workspace.positionBias.reserve(c.numHeads * (2 * pack.maxLength - 1))

    // The residual stream lives in `out` throughout.
    for (s, ids) in sequences.enumerated() {
        embedding_forward(out + pack.offsets[s] * d, ids: ids, table: w[w.layout.shared], dim: d)
    }
    relative_position_bias_forward(
        biasValues, w[w.layout.encoderPositionBias], maxLength: pack.maxLength, heads: c.numHeads,
        bidirectional: true, numBuckets: c.relativeAttentionNumBuckets, maxDistance: c.relativeAttentionMaxDistance)
    let positionBias = PositionBias(values: biasValues, maxLength: pack.maxLength)

    for layer in w.layout.encoderLayers {
        rmsnorm_forward(normed, out, w[layer.selfAttentionNorm], rows: rows, dim: d, eps: c.layerNormEpsilon)
        // q, k and v are adjacent in the block, so one [3*inner, d] GEMM computes all three.
        w.linear(qkv, normed, layer.selfAttention.q, rows: rows, inDim: d, outDim: 3 * inner)
        for (offset, length) in zip(pack.offsets, pack.lengths) {
            let base = qkv + offset * 3 * inner
            attention_forward(
                attended + offset * inner, ldOut: inner, q: base, ldq: 3 * inner, k: base + inner, ldk: 3 * inner,
                v: base + 2 * inner, ldv: 3 * inner, positionBias: positionBias, queryLength: length,
                keyLength: length, heads: c.numHeads, dKV: c.dKV, causal: false, scores: scores)
        }
        w.linear(out, attended, layer.selfAttention.o, rows: rows, inDim: inner, outDim: d, accumulate: true)

        rmsnorm_forward(normed, out, w[layer.feedForwardNorm], rows: rows, dim: d, eps: c.layerNormEpsilon)
        feed_forward_forward(out, normed, hidden, layer.feedForward, rows: rows, weights: w)
    }
    rmsnorm_forward(out, out, w[w.layout.encoderFinalNorm], rows: rows, dim: d, eps: c.layerNormEpsilon)
}

/// out[i, :] = table[ids[i], :].
func embedding_forward(_ out: UnsafeMutablePointer<Float>, ids: [Int32], table: UnsafePointer<Float>, dim: Int) {
    for (i, id) in ids.enumerated() {
        (out + i * dim).update(from: table + Int(id) * dim, count: dim)
    }
}
