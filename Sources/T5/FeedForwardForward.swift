/// residual[rows, d] += wo(act(wi x)); hidden is scratch of rows x (2*d_ff gated, d_ff relu).
/// wi_0 and wi_1 are adjacent in the block, so the gated variant computes both in one GEMM.
func feed_forward_forward(_ residual: UnsafeMutablePointer<Float>, _ normed: UnsafePointer<Float>,
                          _ hidden: UnsafeMutablePointer<Float>, _ ffn: FeedForwardOffsets, rows: Int,
                          weights w: T5Weights) {
    let c = w.config
    switch c.feedForward {
    case .gatedGelu:
        w.linear(hidden, normed, ffn.wi0, rows: rows, inDim: c.dModel, outDim: 2 * c.dFF)
        gated_gelu_forward(hidden, rows: rows, dFF: c.dFF)
        w.linear(residual, hidden, ffn.wo, rows: rows, inDim: c.dFF, outDim: c.dModel, ldIn: 2 * c.dFF,
                       accumulate: true)
    case .relu:
        w.linear(hidden, normed, ffn.wi0, rows: rows, inDim: c.dModel, outDim: c.dFF)
        relu_forward(hidden, count: rows * c.dFF)
        w.linear(residual, hidden, ffn.wo, rows: rows, inDim: c.dFF, outDim: c.dModel, accumulate: true)
    }
}
