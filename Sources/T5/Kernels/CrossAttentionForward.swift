import COpenBLAS

/// Cross-attention of a sequence's few decoder rows over its encoder rows, with the key and value projections
/// folded into the decoder side: per head h, scores_h = (q_h Wk_h) encoded^T and out_h = (p_h encoded) Wv_h^T.
/// Projecting every encoder row to keys and values costs 2 L d inner multiply-adds per layer; folding costs
/// about 2 heads P L d for P decoder rows (one for pointwise scoring), ~14% of a flan-t5 forward pass.
/// Same sums in another order: the result matches the unfolded attention to fp32 rounding.
/// q: [queryLength, heads*dKV] (stride ldq); encoded: [keyLength, dModel]; wk, wv: [heads*dKV, dModel];
/// out: [queryLength, heads*dKV] (stride ldOut); folded: scratch of 2 * heads * queryLength * dModel floats;
/// scores: scratch of heads * queryLength * keyLength floats.
func cross_attention_forward(_ out: UnsafeMutablePointer<Float>, ldOut: Int, q: UnsafePointer<Float>, ldq: Int,
                             encoded: UnsafePointer<Float>, wk: UnsafePointer<Float>, wv: UnsafePointer<Float>,
                             queryLength: Int, keyLength: Int, heads: Int, dKV: Int, dModel: Int,
                             folded: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>) {
    let rows = heads * queryLength  // head-major: rows h*queryLength ..< (h+1)*queryLength belong to head h
    let queries = folded, context = folded + rows * dModel
    for h in 0..<heads {
        // q_h Wk_h: [queryLength, dKV] x [dKV, dModel]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(queryLength), Int32(dModel), Int32(dKV),
                    1, q + h * dKV, Int32(ldq), wk + h * dKV * dModel, Int32(dModel), 0,
                    queries + h * queryLength * dModel, Int32(dModel))
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(keyLength), Int32(dModel),
                1, queries, Int32(dModel), encoded, Int32(dModel), 0, scores, Int32(keyLength))
    for row in 0..<rows { softmax_row_forward(scores + row * keyLength, bias: nil, visible: keyLength) }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(dModel), Int32(keyLength),
                1, scores, Int32(keyLength), encoded, Int32(dModel), 0, context, Int32(dModel))
    for h in 0..<heads {
        // (p_h encoded) Wv_h^T: [queryLength, dModel] x [dModel, dKV]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(queryLength), Int32(dKV), Int32(dModel),
                    1, context + h * queryLength * dModel, Int32(dModel), wv + h * dKV * dModel, Int32(dModel), 0,
                    out + h * dKV, Int32(ldOut))
    }
}
