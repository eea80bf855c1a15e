import Foundation
import T5Kernels
import XCTest
@testable import T5

final class ElementwiseKernelTests: XCTestCase {
    /// The kernels run AVX2+FMA exactly when /proc/cpuinfo lists both and RERANK_KERNELS does not force the
    /// baseline (Scripts/test.sh runs the numeric tests once each way).
    func testKernelChoiceFollowsTheCPUAndTheEnvironment() throws {
        #if arch(x86_64)
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flags = Set(cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }?
            .split(separator: " ").map(String.init) ?? [])
        let forced = ProcessInfo.processInfo.environment["RERANK_KERNELS"] == "baseline"
        let expected = flags.contains("avx2") && flags.contains("fma") && !forced ? "avx2+fma" : "baseline"
        XCTAssertEqual(T5Model.kernelISA, expected)
        #else
        XCTAssertEqual(T5Model.kernelISA, "baseline")
        #endif
    }

    /// Activations: the step maps the row's largest magnitude to 127, halves round to even, bytes carry +128;
    /// 11 columns run both the 8-wide body and the scalar tail.
    func testActivationQuantisationRoundsHalfToEven() {
        let row: [Float] = [0.5, 1.5, -0.5, -2.5, 63.5, -127, 2.5, 3.49, 100.5, 0.25, -1.5]
        var bytes = [UInt8](repeating: 0, count: row.count)
        var scale: Float = 0
        t5_quantize_rows_u8(&bytes, &scale, row, row.count, 1, row.count)
        XCTAssertEqual(scale, 1)
        let expected: [Int] = [0, 2, 0, -2, 64, -127, 2, 3, 100, 0, -2]
        XCTAssertEqual(bytes.map { Int($0) - 128 }, expected)
        // Scaled: max 254 -> step 2, so 3 -> 1.5 -> 2 and 5 -> 2.5 -> 2.
        let doubled = row.map { $0 * 2 }
        t5_quantize_rows_u8(&bytes, &scale, doubled, doubled.count, 1, doubled.count)
        XCTAssertEqual(scale, 2)
        XCTAssertEqual(bytes.map { Int($0) - 128 }, expected)
    }

    /// A zero row gets step 1 (not a division by zero) and quantises to the offset alone.
    func testZeroRowQuantisesToZero() {
        let row = [Float](repeating: 0, count: 9)
        var bytes = [UInt8](repeating: 0, count: 9)
        var scale: Float = 0
        t5_quantize_rows_u8(&bytes, &scale, row, 9, 1, 9)
        XCTAssertEqual(scale, 1)
        XCTAssertEqual(bytes, [UInt8](repeating: 128, count: 9))
    }

    func testDequantisationScalesByRowAndColumnAndAccumulates() {
        let sums: [Int32] = Array(1...18).map { Int32($0) * (($0 % 2 == 0) ? 1 : -1) }  // 2 rows x 9 columns
        let rowScales: [Float] = [0.5, 2]
        let columnScales: [Float] = (0..<9).map { Float($0 + 1) / 4 }
        var out = [Float](repeating: 1, count: 2 * 10)  // ld_out 10: the last column of each row is untouched
        t5_dequantize_rows(&out, 10, sums, rowScales, columnScales, 2, 9, 1)
        for r in 0..<2 {
            for c in 0..<9 {
                XCTAssertEqual(out[r * 10 + c], 1 + Float(sums[r * 9 + c]) * rowScales[r] * columnScales[c], accuracy: 1e-6)
            }
            XCTAssertEqual(out[r * 10 + 9], 1)
        }
    }

    /// Weights: signed, no offset, the row's largest magnitude at +-levels (127 with VNNI, 63 without).
    func testWeightQuantisationUsesTheGivenLevels() {
        let rows: [Float] = [-2, 1, 0.5, 0.25, 2, 1.5, 0, 0, 0, -0.75]  // 2 rows x 5
        var values = [Int8](repeating: 0, count: 10)
        var scales = [Float](repeating: 0, count: 2)
        t5_quantize_rows_s8(&values, &scales, rows, 2, 5, 127)
        XCTAssertEqual(scales, [2 / 127, 1.5 / 127])
        XCTAssertEqual(values, [-127, 64, 32, 16, 127, 127, 0, 0, 0, -64])
        t5_quantize_rows_s8(&values, &scales, rows, 2, 5, 63)
        XCTAssertEqual(scales, [2 / 63, 1.5 / 63])
        // 1 * (1 / (2/63)) is 31.499998 in fp32, so it rounds down: the same arithmetic in Swift is the reference.
        let expected = rows.enumerated().map { Int8(($1 * (1 / scales[$0 / 5])).rounded(.toNearestOrEven)) }
        XCTAssertEqual(values, expected)
        XCTAssertEqual(values[0], -63)
        XCTAssertEqual(values[5], 63)
    }

    /// A NaN or an infinity marks its row's scale NaN, so the row's results come out NaN as in fp32; a row of
    /// values too small to invert counts as zero. Neither is undefined behaviour in the kernel.
    func testNonFiniteAndTinyRows() {
        let rows: [Float] = [1, .nan, 2, 3, 4, 5, 6, 7, 8,
                             .infinity, 1, 2, 3, 4, 5, 6, 7, 8,
                             1e-35, -1e-35, 0, 0, 0, 0, 0, 0, 0]
        var bytes = [UInt8](repeating: 0, count: 27)
        var scales = [Float](repeating: 0, count: 3)
        t5_quantize_rows_u8(&bytes, &scales, rows, 9, 3, 9)
        XCTAssertTrue(scales[0].isNaN)
        XCTAssertTrue(scales[1].isNaN)
        XCTAssertEqual(scales[2], 1)
        XCTAssertEqual(Array(bytes[18...]), [UInt8](repeating: 128, count: 9))
        var out = [Float](repeating: 0, count: 3)
        t5_dequantize_rows(&out, 1, [5, 5, 5], scales, [1], 3, 1, 0)
        XCTAssertTrue(out[0].isNaN && out[1].isNaN)
        XCTAssertEqual(out[2], 5)
        var weights = [Int8](repeating: 0, count: 27)
        t5_quantize_rows_s8(&weights, &scales, rows, 3, 9, 127)
        XCTAssertTrue(scales[0].isNaN && scales[1].isNaN)
        XCTAssertEqual(scales[2], 1)
    }

    /// The softmax keeps NaN (its exp clamps with comparisons, which NaN fails) instead of turning it into a
    /// finite probability.
    func testSoftmaxPropagatesNaN() {
        var row: [Float] = [0, 1, .nan, 2, 0, 0, 0, 0, 1, 2]
        t5_softmax_row(&row, nil, 10)
        XCTAssertTrue(row.allSatisfy { $0.isNaN })
        var finite: [Float] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        t5_softmax_row(&finite, nil, 11)
        XCTAssertEqual(finite.reduce(0, +), 1, accuracy: 1e-6)
        XCTAssertEqual(finite[10] / finite[9], exp(1), accuracy: 1e-5)
    }
}
