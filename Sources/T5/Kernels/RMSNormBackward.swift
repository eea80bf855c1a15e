/// Backward of `rmsnorm_forward` (y = x r w, r = rsqrt(mean(x^2) + eps)), accumulating:
/// dWeight += Σ_rows dy x r;  dInp += r (dy w) - x r^3 Σ(dy w x) / dim.
func rmsnorm_backward(dInp: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>,
                      dOut: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                      rows: Int, dim: Int, eps: Float) {
    for r in 0..<rows {
        let x = inp + r * dim, dy = dOut + r * dim, dx = dInp + r * dim
        var squares: Float = 0
        for i in 0..<dim { squares += x[i] * x[i] }
        let scale = 1 / (squares / Float(dim) + eps).squareRoot()
        var dot: Float = 0
        for i in 0..<dim {
            let g = dy[i] * weight[i]
            dot += g * x[i]
            dWeight[i] += dy[i] * x[i] * scale
        }
        let correction = scale * scale * scale * dot / Float(dim)
        for i in 0..<dim { dx[i] += scale * dy[i] * weight[i] - x[i] * correction }
    }
}
