import COpenBLAS

/// Backward of `attention_forward` for one sequence. The probabilities are recomputed from q and k (cheaper
/// in memory than caching [heads, Lq, Lk] per layer). Accumulates dq, dk, dv (same strides as q, k, v) and,
/// for self-attention, the gradient of the bias by relative position: dRelative[h * span + (j - i + maxLength - 1)].
/// scores, dProbabilities, dropped: scratch of queryLength * keyLength floats each (dropped only with dropout).
func attention_backward(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                        dRelative: UnsafeMutablePointer<Float>?, dOut: UnsafePointer<Float>, ldDOut: Int,
                        q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int,
                        v: UnsafePointer<Float>, ldv: Int, positionBias: PositionBias?,
                        queryLength: Int, keyLength: Int, heads: Int, dKV: Int, causal: Bool,
                        scores: UnsafeMutablePointer<Float>, dProbabilities: UnsafeMutablePointer<Float>,
                        dropout: (masks: DropoutMasks, site: UInt64, dropped: UnsafeMutablePointer<Float>)? = nil) {
    let (lq, lk) = (Int32(queryLength), Int32(keyLength))
    for h in 0..<heads {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, lq, lk, Int32(dKV),
                    1, q + h * dKV, Int32(ldq), k + h * dKV, Int32(ldk), 0, scores, lk)
        for i in 0..<queryLength {
            let row = scores + i * keyLength
            let visible = causal ? min(i + 1, keyLength) : keyLength
            softmax_row_forward(row, bias: positionBias?.row(head: h, query: i), visible: visible)
            if visible < keyLength { (row + visible).update(repeating: 0, count: keyLength - visible) }
        }
        // With dropout the values were weighted by the dropped probabilities D(P).
        var weights = UnsafePointer(scores)
        if let dropout {
            dropout.dropped.update(from: scores, count: queryLength * keyLength)
            dropout.masks.apply(dropout.dropped, count: queryLength * keyLength, site: dropout.site &+ UInt64(h) << 56)
            weights = UnsafePointer(dropout.dropped)
        }
        // dP = D(dO v^T); dv += D(P)^T dO.
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, lq, lk, Int32(dKV),
                    1, dOut + h * dKV, Int32(ldDOut), v + h * dKV, Int32(ldv), 0, dProbabilities, lk)
        if let dropout {
            dropout.masks.apply(dProbabilities, count: queryLength * keyLength, site: dropout.site &+ UInt64(h) << 56)
        }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, lk, Int32(dKV), lq,
                    1, weights, lk, dOut + h * dKV, Int32(ldDOut), 1, dv + h * dKV, Int32(ldv))
        // dS = P ⊙ (dP - Σ_j dP P), written over dP.
        for i in 0..<queryLength {
            let p = scores + i * keyLength, dp = dProbabilities + i * keyLength
            var dot: Float = 0
            for j in 0..<keyLength { dot += dp[j] * p[j] }
            for j in 0..<keyLength { dp[j] = p[j] * (dp[j] - dot) }
            if let dRelative, let positionBias {
                let base = dRelative + h * positionBias.span + (positionBias.maxLength - 1 - i)
                for j in 0..<keyLength { base[j] += dp[j] }
            }
        }
        // dq += dS k; dk += dS^T q.
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, lq, Int32(dKV), lk,
                    1, dProbabilities, lk, k + h * dKV, Int32(ldk), 1, dq + h * dKV, Int32(ldq))
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, lk, Int32(dKV), lq,
                    1, dProbabilities, lk, q + h * dKV, Int32(ldq), 1, dk + h * dKV, Int32(ldk))
    }
}

/// Backward of `relative_position_bias_forward`: dTable[bucket(rel), h] += dRelative[h, rel + maxLength - 1].
func relative_position_bias_backward(dTable: UnsafeMutablePointer<Float>, dRelative: UnsafePointer<Float>,
                                     maxLength: Int, heads: Int, bidirectional: Bool, numBuckets: Int,
                                     maxDistance: Int) {
    let span = 2 * maxLength - 1
    for index in 0..<span {
        let bucket = relative_position_bucket(
            index - (maxLength - 1), bidirectional: bidirectional, numBuckets: numBuckets, maxDistance: maxDistance)
        for h in 0..<heads { dTable[bucket * heads + h] += dRelative[h * span + index] }
    }
}
