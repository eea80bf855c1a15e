import T5Kernels

/// out[r, :] = inp[r, :] * rsqrt(mean(inp[r, :]^2) + eps) * weight — T5's LayerNorm (no mean, no bias).
/// `out` may alias `inp`.
func rmsnorm_forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                     rows: Int, dim: Int, eps: Float) {
    t5_rmsnorm(out, inp, weight, rows, dim, eps)
}
