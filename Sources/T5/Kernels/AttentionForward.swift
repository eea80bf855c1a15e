import COpenBLAS
import T5Kernels

/// Multi-head attention for one sequence, T5 style: scores = q k^T with no 1/sqrt(d) scaling, plus the
/// relative position bias, softmax in fp32, then the weighted sum of v. Both matmuls per head are sgemm.
/// q: [queryLength, heads*dKV] (row stride ldq), k/v: [keyLength, heads*dKV] (strides ldk/ldv),
/// out: [queryLength, heads*dKV] (stride ldOut).
/// positionBias: nil for cross-attention; for self-attention queries and keys share positions 0..<length.
/// causal: query i sees keys 0...i only (decoder self-attention).
/// scores: scratch of queryLength * keyLength floats.
/// dropout (training only): the probabilities of head h are dropped with the masks of `site` + h.
func attention_forward(_ out: UnsafeMutablePointer<Float>, ldOut: Int,
                       q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int,
                       v: UnsafePointer<Float>, ldv: Int, positionBias: PositionBias?,
                       queryLength: Int, keyLength: Int, heads: Int, dKV: Int, causal: Bool,
                       scores: UnsafeMutablePointer<Float>, dropout: (masks: DropoutMasks, site: UInt64)? = nil) {
    if let positionBias { precondition(queryLength <= positionBias.maxLength && keyLength <= positionBias.maxLength) }
    for h in 0..<heads {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(queryLength), Int32(keyLength), Int32(dKV),
                    1, q + h * dKV, Int32(ldq), k + h * dKV, Int32(ldk), 0, scores, Int32(keyLength))
        for i in 0..<queryLength {
            let row = scores + i * keyLength
            let visible = causal ? min(i + 1, keyLength) : keyLength
            let bias = positionBias?.row(head: h, query: i)
            softmax_row_forward(row, bias: bias, visible: visible)
            if visible < keyLength {
                (row + visible).update(repeating: 0, count: keyLength - visible)
            }
        }
        if let dropout {
            dropout.masks.apply(scores, count: queryLength * keyLength, site: dropout.site &+ UInt64(h) << 56)
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(queryLength), Int32(dKV), Int32(keyLength),
                    1, scores, Int32(keyLength), v + h * dKV, Int32(ldv), 0, out + h * dKV, Int32(ldOut))
    }
}

/// row[0..<visible] = softmax(row + bias) in place; bias (if any) is added elementwise first.
func softmax_row_forward(_ row: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, visible: Int) {
    t5_softmax_row(row, bias, visible)
}
