import Foundation

/// Backward of the gated GELU: h = gelu_tanh(a) * b with `pre` = [rows, 2*dFF] holding a | b (before the
/// activation) and dH = [rows, dFF]; writes dPre = [rows, 2*dFF] (da | db).
func gated_gelu_backward(dPre: UnsafeMutablePointer<Float>, dH: UnsafePointer<Float>, pre: UnsafePointer<Float>,
                         rows: Int, dFF: Int) {
    let c0: Float = 0.797_884_560_802_865_4, c1: Float = 0.044_715
    for r in 0..<rows {
        let a = pre + r * 2 * dFF, b = a + dFF
        let da = dPre + r * 2 * dFF, db = da + dFF
        let dh = dH + r * dFF
        for j in 0..<dFF {
            let x = a[j]
            let t = tanhf(c0 * (x + c1 * x * x * x))
            let gelu = 0.5 * x * (1 + t)
            let slope = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c0 * (1 + 3 * c1 * x * x)
            da[j] = dh[j] * b[j] * slope
            db[j] = dh[j] * gelu
        }
    }
}

/// Backward of ReLU: dPre = dH where the pre-activation was positive, else 0.
func relu_backward(dPre: UnsafeMutablePointer<Float>, dH: UnsafePointer<Float>, pre: UnsafePointer<Float>, count: Int) {
    for i in 0..<count { dPre[i] = pre[i] > 0 ? dH[i] : 0 }
}
