import Foundation

/// Runs the decoder stack on `prefix` (causal self-attention, cross-attention to `encoded`) and returns the
/// final-normed hidden state of the LAST prefix position: [d_model].
/// encoded: [encodedLength, d_model] from encoder_forward.
func decoder_forward(prefix: [Int32], encoded: UnsafePointer<Float>, encodedLength: Int,
                     weights w: T5Weights) -> [Float] {
    let c = w.config
    let length = prefix.count
    let d = c.dModel
    let inner = c.innerDim
    let ffnWidth = c.feedForward == .gatedGelu ? 2 * c.dFF : c.dFF

    let residual = UnsafeMutablePointer<Float>.allocate(capacity: length * d)
    let normed = UnsafeMutablePointer<Float>.allocate(capacity: length * d)
    let qkv = UnsafeMutablePointer<Float>.allocate(capacity: length * 3 * inner)
    let crossKV = UnsafeMutablePointer<Float>.allocate(capacity: encodedLength * 2 * inner)
    let attended = UnsafeMutablePointer<Float>.allocate(capacity: length * inner)
    let hidden = UnsafeMutablePointer<Float>.allocate(capacity: length * ffnWidth)
    let scores = UnsafeMutablePointer<Float>.allocate(capacity: length * max(length, encodedLength))
    let positionBias = UnsafeMutablePointer<Float>.allocate(capacity: c.numHeads * (2 * length - 1))
    defer {
        for buffer in [residual, normed, qkv, crossKV, attended, hidden, scores, positionBias] { buffer.deallocate() }
    }

    embedding_forward(residual, ids: prefix, table: w[w.layout.shared], dim: d)
    relative_position_bias_forward(
        positionBias, w[w.layout.decoderPositionBias], queryLength: length, keyLength: length, heads: c.numHeads,
        bidirectional: false, numBuckets: c.relativeAttentionNumBuckets, maxDistance: c.relativeAttentionMaxDistance)

    for layer in w.layout.decoderLayers {
        rmsnorm_forward(normed, residual, w[layer.selfAttentionNorm], rows: length, dim: d, eps: c.layerNormEpsilon)
        matmul_forward(qkv, normed, w[layer.selfAttention.q], rows: length, inDim: d, outDim: 3 * inner)
        attention_forward(
            attended, ldOut: inner, q: qkv, ldq: 3 * inner, k: qkv + inner, ldk: 3 * inner, v: qkv + 2 * inner,
            ldv: 3 * inner, positionBias: positionBias, queryLength: length, keyLength: length, heads: c.numHeads,
            dKV: c.dKV, causal: true, scores: scores)
        matmul_forward(residual, attended, w[layer.selfAttention.o], rows: length, inDim: inner, outDim: d,
                       accumulate: true)

        // Cross-attention: q from the decoder, k and v (adjacent in the block) from the encoder output.
        let cross = layer.crossAttention
        rmsnorm_forward(normed, residual, w[layer.crossAttentionNorm], rows: length, dim: d, eps: c.layerNormEpsilon)
        matmul_forward(qkv, normed, w[cross.q], rows: length, inDim: d, outDim: inner)
        matmul_forward(crossKV, encoded, w[cross.k], rows: encodedLength, inDim: d, outDim: 2 * inner)
        attention_forward(
            attended, ldOut: inner, q: qkv, ldq: inner, k: crossKV, ldk: 2 * inner, v: crossKV + inner,
            ldv: 2 * inner, positionBias: nil, queryLength: length, keyLength: encodedLength, heads: c.numHeads,
            dKV: c.dKV, causal: false, scores: scores)
        matmul_forward(residual, attended, w[cross.o], rows: length, inDim: inner, outDim: d, accumulate: true)

        rmsnorm_forward(normed, residual, w[layer.feedForwardNorm], rows: length, dim: d, eps: c.layerNormEpsilon)
        feed_forward_forward(residual, normed, hidden, layer.feedForward, rows: length, weights: w)
    }
    var last = [Float](repeating: 0, count: d)
    last.withUnsafeMutableBufferPointer { out in
        rmsnorm_forward(out.baseAddress!, residual + (length - 1) * d, w[w.layout.decoderFinalNorm], rows: 1, dim: d,
                        eps: c.layerNormEpsilon)
    }
    return last
}

/// logits[j] = hidden · lmHead[vocabIDs[j]]: only the rows that are read, never the full vocabulary.
/// Tied embeddings scale the hidden state by d_model^-0.5 first, as `transformers` does.
func lm_head_forward(hidden: [Float], vocabIDs: [Int32], weights w: T5Weights) -> [Float] {
    let c = w.config
    let d = c.dModel
    let scale: Float = c.tieWordEmbeddings ? Float(pow(Double(d), -0.5)) : 1
    let head = w[w.layout.lmHead]
    return vocabIDs.map { id in
        let row = head + Int(id) * d
        var sum: Float = 0
        for i in 0..<d { sum += hidden[i] * scale * row[i] }
        return sum
    }
}
