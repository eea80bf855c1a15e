import T5Kernels

/// Gated GELU of FLAN-T5: h[r, j] = gelu_tanh(h[r, j]) * h[r, dFF + j] for a [rows, 2*dFF] buffer holding
/// wi_0 x | wi_1 x side by side. The product is written in place into the first dFF columns.
func gated_gelu_forward(_ h: UnsafeMutablePointer<Float>, rows: Int, dFF: Int) {
    t5_gated_gelu(h, rows, dFF)
}

/// ReLU of original T5, in place over `count` floats.
func relu_forward(_ h: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count where h[i] < 0 { h[i] = 0 }
}
