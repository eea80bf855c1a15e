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

/// out[h, rel + queryLength - 1] = table[bucket(rel), h] for every rel = key - query in
/// [-(queryLength - 1), keyLength - 1]. Storing the bias by distance lets attention add a contiguous slice
/// per score row instead of materialising [heads, Lq, Lk].
/// table: [numBuckets, heads]; out: [heads, queryLength + keyLength - 1].
func relative_position_bias_forward(_ out: UnsafeMutablePointer<Float>, _ table: UnsafePointer<Float>,
                                    queryLength: Int, keyLength: Int, heads: Int, bidirectional: Bool,
                                    numBuckets: Int, maxDistance: Int) {
    let span = queryLength + keyLength - 1
    for index in 0..<span {
        let bucket = relative_position_bucket(
            index - (queryLength - 1), bidirectional: bidirectional, numBuckets: numBuckets, maxDistance: maxDistance)
        for h in 0..<heads {
            out[h * span + index] = table[bucket * heads + h]
        }
    }
}
