/// The counter-based weight generator of Scripts/fixtures/make_model_fixtures.py, re-implemented exactly:
/// value_i = (top 16 bits of splitmix64((seed ^ fnv1a64(name)) + i) - 2^15) * 2^-15, then layer norms
/// 1 + value/8, shared and relative biases value, lm_head value/4, projections value * 2^-(bit_length(d_model) / 2).
struct PRNGWeights {
    let seed: UInt64
    let dModel: Int

    func fill(name: String, destination: UnsafeMutableBufferPointer<Float>) {
        let base = seed ^ fnv1a64(name)
        let scale: Float
        var offset: Float = 0
        if name.contains("layer_norm") {
            scale = 0.125
            offset = 1
        } else if name == "shared.weight" || name.contains("relative_attention_bias") {
            scale = 1
        } else if name == "lm_head.weight" {
            scale = 0.25
        } else {
            let exponent = (Int.bitWidth - dModel.leadingZeroBitCount) / 2
            scale = Float(sign: .plus, exponent: -exponent, significand: 1)
        }
        for i in destination.indices {
            let bits = splitmix64(base &+ UInt64(i))
            let value = Float(Int(bits >> 48) - 32768) * 0x1p-15
            destination[i] = offset + value * scale
        }
    }

    private func fnv1a64(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    private func splitmix64(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
