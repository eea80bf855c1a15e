/// Vectorised exp for SIMD8<Float> (Cephes expf scheme: 2^n * poly(r), |r| <= ln2/2), about 2 ulp.
/// Inputs are clamped to the finite range, so -large gives a tiny positive number rather than 0 or NaN.
@inline(__always)
func vector_exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let clamped = vector_clamp(x, -87, 88)
    // Round x*log2(e) to the nearest integer with the 1.5*2^23 trick: its low mantissa bits hold n.
    let magic = SIMD8<Float>(repeating: 12_582_912.0)
    let shifted = clamped * 1.442_695_04 + magic
    let n = shifted - magic
    var r = clamped - n * 0.693_359_375
    r = r - n * -2.121_944_40e-4
    var p = SIMD8<Float>(repeating: 1.987_569_150_0e-4)
    p = p * r + 1.398_199_950_7e-3
    p = p * r + 8.333_451_907_3e-3
    p = p * r + 4.166_579_589_4e-2
    p = p * r + 1.666_666_545_9e-1
    p = p * r + 5.000_000_120_1e-1
    p = p * (r * r) + r + 1
    let nBits = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
    let scale = unsafeBitCast((nBits &+ 127) &<< 23, to: SIMD8<Float>.self)
    return p * scale
}

/// Loads up to 8 floats, filling lanes past `count` with `fill` (for loop tails).
@inline(__always)
func vector_load(_ p: UnsafePointer<Float>, count: Int, fill: Float = 0) -> SIMD8<Float> {
    if count >= 8 { return UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
    var v = SIMD8<Float>(repeating: fill)
    for i in 0..<count { v[i] = p[i] }
    return v
}

/// Stores the first min(count, 8) lanes of `v`.
@inline(__always)
func vector_store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, count: Int) {
    if count >= 8 {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
        return
    }
    for i in 0..<count { p[i] = v[i] }
}

/// Lane-wise min(max(x, low), high) as compare-and-select, which compiles to vector instructions
/// (the generic pointwiseMin/Max do not inline).
@inline(__always)
func vector_clamp(_ x: SIMD8<Float>, _ low: Float, _ high: Float) -> SIMD8<Float> {
    var v = x
    v.replace(with: low, where: v .< low)
    v.replace(with: high, where: v .> high)
    return v
}

/// Lane-wise max(x, low) as compare-and-select.
@inline(__always)
func vector_max(_ x: SIMD8<Float>, _ low: SIMD8<Float>) -> SIMD8<Float> {
    var v = x
    v.replace(with: low, where: v .< low)
    return v
}
