import XCTest
@testable import T5

/// The folded cross-attention against the textbook one (project every encoder row to keys and values, then
/// attend), on the same random operands: the same sums in another order, so equal to fp32 rounding.
final class CrossAttentionTests: XCTestCase {
    func testFoldedCrossAttentionEqualsProjectingKeysAndValues() {
        let heads = 3, dKV = 8, dModel = 20, keyLength = 13, queryLength = 2
        let inner = heads * dKV
        var state: UInt64 = 7
        func random(_ count: Int) -> [Float] {
            (0..<count).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Float(Int(state >> 40) - (1 << 23)) * 0x1p-23
            }
        }
        let q = random(queryLength * inner), encoded = random(keyLength * dModel)
        let wk = random(inner * dModel), wv = random(inner * dModel)

        var keys = [Float](repeating: 0, count: keyLength * inner), values = keys
        matmul_forward(&keys, encoded, wk, rows: keyLength, inDim: dModel, outDim: inner)
        matmul_forward(&values, encoded, wv, rows: keyLength, inDim: dModel, outDim: inner)
        var expected = [Float](repeating: 0, count: queryLength * inner)
        var scores = [Float](repeating: 0, count: heads * queryLength * keyLength)
        attention_forward(&expected, ldOut: inner, q: q, ldq: inner, k: keys, ldk: inner, v: values, ldv: inner,
                          positionBias: nil, queryLength: queryLength, keyLength: keyLength, heads: heads, dKV: dKV,
                          causal: false, scores: &scores)

        var folded = [Float](repeating: 0, count: 2 * heads * queryLength * dModel)
        var actual = [Float](repeating: .nan, count: queryLength * inner)
        cross_attention_forward(&actual, ldOut: inner, q: q, ldq: inner, encoded: encoded, wk: wk, wv: wv,
                                queryLength: queryLength, keyLength: keyLength, heads: heads, dKV: dKV,
                                dModel: dModel, folded: &folded, scores: &scores)
        for (a, e) in zip(actual, expected) { XCTAssertEqual(a, e, accuracy: 1e-5 * max(1, abs(e))) }
        // The operands matter: another value matrix changes the result.
        var other = actual
        cross_attention_forward(&other, ldOut: inner, q: q, ldq: inner, encoded: encoded, wk: wk, wv: random(inner * dModel),
                                queryLength: queryLength, keyLength: keyLength, heads: heads, dKV: dKV,
                                dModel: dModel, folded: &folded, scores: &scores)
        XCTAssertGreaterThan(zip(other, expected).map { abs($0 - $1) }.max()!, 1e-3)
    }
}
