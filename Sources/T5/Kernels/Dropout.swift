/// Seeded inverted dropout whose masks are a pure function of (seed, site, index), so the backward pass
/// regenerates exactly the masks the forward pass used without storing them, and a resumed run draws the same.
struct DropoutMasks {
    let rate: Float
    let seed: UInt64

    var isActive: Bool { rate > 0 }

    /// x[i] = kept ? x[i] / (1 - rate) : 0 over `count` floats; the same call is its own backward.
    func apply(_ x: UnsafeMutablePointer<Float>, count: Int, site: UInt64) {
        guard rate > 0 else { return }
        let scale = 1 / (1 - rate)
        let threshold = UInt64(Double(rate) * 0x1p53)
        let base = seed ^ (site &* 0xD1B5_4A32_D192_ED03)
        for i in 0..<count {
            var z = base &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            x[i] = (z >> 11) < threshold ? 0 : x[i] * scale
        }
    }

    /// A distinct site number per (stack, layer, place) in the network.
    static func site(_ stack: Int, _ layer: Int, _ place: Int) -> UInt64 {
        UInt64(stack) << 32 | UInt64(layer) << 8 | UInt64(place)
    }
}
