/// Runs the encoder stack on one sequence at its true length (no padding, so no mask) and writes the
/// final-normed hidden states to out: [ids.count, d_model].
func encoder_forward(_ out: UnsafeMutablePointer<Float>, ids: [Int32], weights w: T5Weights) {
    let c = w.config
    let length = ids.count
    let d = c.dModel
    let inner = c.innerDim
    let ffnWidth = c.feedForward == .gatedGelu ? 2 * c.dFF : c.dFF

    let normed = UnsafeMutablePointer<Float>.allocate(capacity: length * d)
    let qkv = UnsafeMutablePointer<Float>.allocate(capacity: length * 3 * inner)
    let attended = UnsafeMutablePointer<Float>.allocate(capacity: length * inner)
    let hidden = UnsafeMutablePointer<Float>.allocate(capacity: length * ffnWidth)
    let scores = UnsafeMutablePointer<Float>.allocate(capacity: length * length)
    let positionBias = UnsafeMutablePointer<Float>.allocate(capacity: c.numHeads * (2 * length - 1))
    defer {
        for buffer in [normed, qkv, attended, hidden, scores, positionBias] { buffer.deallocate() }
    }

    // The residual stream lives in `out` throughout.
    embedding_forward(out, ids: ids, table: w[w.layout.shared], dim: d)
    relative_position_bias_forward(
        positionBias, w[w.layout.encoderPositionBias], queryLength: length, keyLength: length, heads: c.numHeads,
        bidirectional: true, numBuckets: c.relativeAttentionNumBuckets, maxDistance: c.relativeAttentionMaxDistance)

    for layer in w.layout.encoderLayers {
        rmsnorm_forward(normed, out, w[layer.selfAttentionNorm], rows: length, dim: d, eps: c.layerNormEpsilon)
        // q, k and v are adjacent in the block, so one [3*inner, d] GEMM computes all three.
        matmul_forward(qkv, normed, w[layer.selfAttention.q], rows: length, inDim: d, outDim: 3 * inner)
        attention_forward(
            attended, ldOut: inner, q: qkv, ldq: 3 * inner, k: qkv + inner, ldk: 3 * inner, v: qkv + 2 * inner,
            ldv: 3 * inner, positionBias: positionBias, queryLength: length, keyLength: length, heads: c.numHeads,
            dKV: c.dKV, causal: false, scores: scores)
        matmul_forward(out, attended, w[layer.selfAttention.o], rows: length, inDim: inner, outDim: d, accumulate: true)

        rmsnorm_forward(normed, out, w[layer.feedForwardNorm], rows: length, dim: d, eps: c.layerNormEpsilon)
        feed_forward_forward(out, normed, hidden, layer.feedForward, rows: length, weights: w)
    }
    rmsnorm_forward(out, out, w[w.layout.encoderFinalNorm], rows: length, dim: d, eps: c.layerNormEpsilon)
}

/// out[i, :] = table[ids[i], :].
func embedding_forward(_ out: UnsafeMutablePointer<Float>, ids: [Int32], table: UnsafePointer<Float>, dim: Int) {
    for (i, id) in ids.enumerated() {
        (out + i * dim).update(from: table + Int(id) * dim, count: dim)
    }
}

/// residual[rows, d] += wo(act(wi x)); hidden is scratch of rows x (2*d_ff gated, d_ff relu).
/// wi_0 and wi_1 are adjacent in the block, so the gated variant computes both in one GEMM.
func feed_forward_forward(_ residual: UnsafeMutablePointer<Float>, _ normed: UnsafePointer<Float>,
                          _ hidden: UnsafeMutablePointer<Float>, _ ffn: FeedForwardOffsets, rows: Int,
                          weights w: T5Weights) {
    let c = w.config
    switch c.feedForward {
    case .gatedGelu:
        matmul_forward(hidden, normed, w[ffn.wi0], rows: rows, inDim: c.dModel, outDim: 2 * c.dFF)
        gated_gelu_forward(hidden, rows: rows, dFF: c.dFF)
        matmul_forward(residual, hidden, w[ffn.wo], rows: rows, inDim: c.dFF, outDim: c.dModel, ldIn: 2 * c.dFF,
                       accumulate: true)
    case .relu:
        matmul_forward(hidden, normed, w[ffn.wi0], rows: rows, inDim: c.dModel, outDim: c.dFF)
        relu_forward(hidden, count: rows * c.dFF)
        matmul_forward(residual, hidden, w[ffn.wo], rows: rows, inDim: c.dFF, outDim: c.dModel, accumulate: true)
    }
}
