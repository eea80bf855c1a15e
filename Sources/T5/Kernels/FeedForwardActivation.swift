/// Gated GELU of FLAN-T5: h[r, j] = gelu_tanh(h[r, j]) * h[r, dFF + j] for a [rows, 2*dFF] buffer holding
/// wi_0 x | wi_1 x side by side. The product is written in place into the first dFF columns.
func gated_gelu_forward(_ h: UnsafeMutablePointer<Float>, rows: Int, dFF: Int) {
    // 0.5 x (1 + tanh(u)) == x * sigmoid(2u): one exp and one division per element.
    let twoC0: Float = 2 * 0.797_884_560_802_865_4  // 2 sqrt(2/pi)
    for r in 0..<rows {
        let gate = h + r * 2 * dFF
        let linear = gate + dFF
        var j = 0
        while j < dFF {
            let n = dFF - j
            let x = vector_load(gate + j, count: n)
            let u2 = twoC0 * (x + 0.044_715 * x * x * x)
            let gelu = x / (1 + vector_exp(-u2))
            vector_store(gelu * vector_load(linear + j, count: n), gate + j, count: n)
            j += 8
        }
    }
}

/// ReLU of original T5, in place over `count` floats.
func relu_forward(_ h: UnsafeMutablePointer<Float>, count: Int) {
    var j = 0
    let zero = SIMD8<Float>(repeating: 0)
    while j < count {
        let v = vector_load(h + j, count: count - j)
        vector_store(vector_max(v, zero), h + j, count: count - j)
        j += 8
    }
}
