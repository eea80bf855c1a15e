import CDNNL
import Foundation
import T5Kernels

/// A weight matrix [rows, cols] quantised symmetrically per output row: w[r][c] ~ values[r * cols + c] * scales[r].
struct QuantizedMatrix: Sendable {
    let rows: Int
    let cols: Int
    let values: [Int8]
    let scales: [Float]

    init(_ weight: UnsafePointer<Float>, rows: Int, cols: Int) {
        self.rows = rows
        self.cols = cols
        var scales = [Float](repeating: 1, count: rows)
        values = [Int8](unsafeUninitializedCapacity: rows * cols) { values, count in
            scales.withUnsafeMutableBufferPointer {
                t5_quantize_rows_s8(values.baseAddress, $0.baseAddress, weight, rows, cols, Self.weightLevels)
            }
            count = rows * cols
        }
        self.scales = scales
    }

    /// The largest weight level. oneDNN's int8 GEMM sums u8 x s8 products exactly in int32 on CPUs with VNNI
    /// dot products; without them (AVX2, AVX-512 before Cascade Lake) it adds adjacent pairs in saturating int16
    /// (vpmaddubsw), where 2 x 255 x 127 overflows. Seven-bit weights (+-63) keep every pair below 32767
    /// (2 x 255 x 63 = 32130), so the sums stay exact at the cost of one bit of weight resolution.
    /// Read from oneDNN itself, so ONEDNN_MAX_CPU_ISA (which picks its kernels) is honoured.
    static let weightLevels: Int32 = hasVNNI ? 127 : 63

    static var hasVNNI: Bool {
        #if arch(x86_64)
        let isa = dnnl_get_effective_cpu_isa().rawValue
        return isa & dnnl_cpu_isa_avx512_core_vnni.rawValue == dnnl_cpu_isa_avx512_core_vnni.rawValue
            || isa & dnnl_cpu_isa_avx2_vnni.rawValue == dnnl_cpu_isa_avx2_vnni.rawValue
        #else
        return true  // elsewhere oneDNN's int8 GEMM sums products exactly
        #endif
    }
}

/// The int8 copies of the linear weights that `--precision int8` runs in int8, made once when the model's
/// precision is set (rerankd does it while loading, before the model serves): the encoder's
/// projections, i.e. everything that runs over the document's token rows. The decoder sees a few rows per
/// document (its cross-attention folds the key/value projections into those rows), so it keeps the exact
/// fp32 arithmetic. The choice depends on the layer, never on the batch.
struct QuantizedWeights: Sendable {
    /// Keyed by the fp32 weight's offset in the parameter block.
    private let matrices: [Int: QuantizedMatrix]

    init(base: UnsafePointer<Float>, layout: T5ParameterLayout, config c: T5Config) {
        let d = c.dModel, inner = c.innerDim
        let ffnWidth = c.feedForward == .gatedGelu ? 2 * c.dFF : c.dFF
        // Fused matrices: q|k|v and wi_0|wi_1 are adjacent in the block and run as one GEMM each.
        var shapes: [(offset: Int, rows: Int, cols: Int)] = []
        for layer in layout.encoderLayers {
            shapes += [(layer.selfAttention.q, 3 * inner, d), (layer.selfAttention.o, d, inner),
                       (layer.feedForward.wi0, ffnWidth, d), (layer.feedForward.wo, d, c.dFF)]
        }
        var matrices: [Int: QuantizedMatrix] = [:]
        for shape in shapes {
            matrices[shape.offset] = QuantizedMatrix(base + shape.offset, rows: shape.rows, cols: shape.cols)
        }
        self.matrices = matrices
    }

    /// The int8 copy of the weight at `offset`, nil for a weight that stays fp32.
    func matrix(offset: Int, rows: Int, cols: Int) -> QuantizedMatrix? {
        guard let matrix = matrices[offset] else { return nil }
        precondition(matrix.rows == rows && matrix.cols == cols, "int8 weight at \(offset) used with another shape")
        return matrix
    }
}

/// out[rows, outDim] (+)= inp[rows, inDim] · weight^T with the weight in int8 (per output row) and each input
/// row quantised on the fly to int8 by its own absolute maximum, products summed in int32 by oneDNN. Integer
/// sums are exact, so a row's result does not depend on the other rows in the call (batch invariance holds).
func matmul_int8_forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: QuantizedMatrix,
                         rows: Int, inDim: Int, outDim: Int, ldIn: Int? = nil, ldOut: Int? = nil, accumulate: Bool = false,
                         scratch: Int8Scratch) {
    let activations = scratch.activations.reserve(rows * inDim)
    let rowScales = scratch.rowScales.reserve(rows)
    let sums = scratch.sums.reserve(rows * outDim)
    // u8 = int8 + 128; int8_gemm removes the offset exactly.
    t5_quantize_rows_u8(activations, rowScales, inp, ldIn ?? inDim, rows, inDim)
    weight.values.withUnsafeBufferPointer { values in
        int8_gemm(sums, activations, values.baseAddress!, m: rows, n: outDim, k: inDim)
    }
    weight.scales.withUnsafeBufferPointer { columnScales in
        t5_dequantize_rows(out, ldOut ?? outDim, sums, rowScales, columnScales.baseAddress, rows, outDim,
                           accumulate ? 1 : 0)
    }
}

/// sums[m, n] = (a[m, k] - 128) · b[n, k]^T in int32 with one OpenMP thread per caller: oneDNN's u8 x s8 GEMM,
/// the offset 128 of the activations removed exactly inside it.
func int8_gemm(_ sums: UnsafeMutablePointer<Int32>, _ a: UnsafePointer<UInt8>, _ b: UnsafePointer<Int8>,
               m: Int, n: Int, k: Int) {
    OpenMPThreads.useOnePerCaller()
    var offsetC: Int32 = 0
    _ = dnnl_gemm_u8s8s32(CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "T")), CChar(UInt8(ascii: "F")),
                          Int64(m), Int64(n), Int64(k), 1, a, Int64(k), 128, b, Int64(k), 0, 0, sums, Int64(n),
                          &offsetC)
}

/// oneDNN's Debian build runs each call on an OpenMP team sized for the whole machine; our workers already
/// use every core, so each calling thread asks for a team of one, once.
enum OpenMPThreads {
    private static let configured = ThreadLocalFlag()

    static func useOnePerCaller() {
        if configured.isSet { return }
        omp_set_num_threads(1)
        configured.set()
    }
}

/// A per-thread boolean on pthread-specific storage.
final class ThreadLocalFlag: Sendable {
    private let key: pthread_key_t

    init() {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        self.key = key
    }

    var isSet: Bool { pthread_getspecific(key) != nil }
    func set() { pthread_setspecific(key, UnsafeRawPointer(bitPattern: 1)) }
}
