/// out[r, :] = inp[r, :] * rsqrt(mean(inp[r, :]^2) + eps) * weight — T5's LayerNorm (no mean, no bias).
/// `out` may alias `inp`.
func rmsnorm_forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                     rows: Int, dim: Int, eps: Float) {
    for r in 0..<rows {
        let x = inp + r * dim
        let y = out + r * dim
        var sum = SIMD8<Float>(repeating: 0)
        var i = 0
        while i < dim {
            let v = vector_load(x + i, count: dim - i)
            sum += v * v
            i += 8
        }
        let scale = 1 / (sum.sum() / Float(dim) + eps).squareRoot()
        i = 0
        while i < dim {
            let v = vector_load(x + i, count: dim - i) * scale * vector_load(weight + i, count: dim - i)
            vector_store(v, y + i, count: dim - i)
            i += 8
        }
    }
}
