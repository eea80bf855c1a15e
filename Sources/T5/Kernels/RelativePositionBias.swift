import Foundation

/// T5's bucket for a relative position (key - query), as `transformers` computes it (the log scale in fp32).
/// The encoder is bidirectional (half the buckets per sign); the decoder only looks back.
func relative_position_bucket(_ relative: Int, bidirectional: Bool, numBuckets: Int, maxDistance: Int) -> Int {
    var buckets = numBuckets
    var bucket = 0
    let distance: Int
    if bidirectional {
        buckets /= 2
        if relative > 0 { bucket += buckets }
        distance = abs(relative)
    } else {
        distance = max(-relative, 0)
    }
    let maxExact = buckets / 2
    if distance < maxExact { return bucket + distance }
    let logRatio = logf(Float(distance) / Float(maxExact)) / Float(log(Double(maxDistance) / Double(maxExact)))
    return bucket + min(maxExact + Int(logRatio * Float(buckets - maxExact)), buckets - 1)
}

/// A relative position bias stored by distance: values[h * span + (rel + maxLength - 1)] for
/// rel = key - query in [-(maxLength - 1), maxLength - 1], span = 2 * maxLength - 1. Attention then adds one
/// contiguous slice per score row instead of materialising [heads, L, L]; one table serves every sequence up
/// to maxLength tokens.
struct PositionBias {
    let values: UnsafePointer<Float>
    let maxLength: Int

    var span: Int { 2 * maxLength - 1 }

    /// Bias of keys 0, 1, ... for query position `query` of head `head`.
    @inline(__always)
    func row(head: Int, query: Int) -> UnsafePointer<Float> {
        values + head * span + (maxLength - 1 - query)
    }
}

/// out[h, rel + maxLength - 1] = table[bucket(rel), h] for every rel in [-(maxLength - 1), maxLength - 1].
/// table: [numBuckets, heads]; out: [heads, 2 * maxLength - 1].
func relative_position_bias_forward(_ out: UnsafeMutablePointer<Float>, _ table: UnsafePointer<Float>,
                                    maxLength: Int, heads: Int, bidirectional: Bool,
                                    numBuckets: Int, maxDistance: Int) {
    let span = 2 * maxLength - 1
    for index in 0..<span {
        let bucket = relative_position_bucket(
            index - (maxLength - 1), bidirectional: bidirectional, numBuckets: numBuckets, maxDistance: maxDistance)
        for h in 0..<heads {
            out[h * span + index] = table[bucket * heads + h]
        }
    }
}
