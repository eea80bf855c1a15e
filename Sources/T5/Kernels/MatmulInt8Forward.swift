import CDNNL
import Foundation
import Synchronization

/// A weight matrix [rows, cols] quantised symmetrically per output row: w[r][c] ~ values[r * cols + c] * scales[r].
struct QuantizedMatrix: Sendable {
    let values: [Int8]
    let scales: [Float]

    init(_ weight: UnsafePointer<Float>, rows: Int, cols: Int) {
        var values = [Int8](repeating: 0, count: rows * cols)
        var scales = [Float](repeating: 1, count: rows)
        for r in 0..<rows {
            let row = weight + r * cols
            let scale = symmetricInt8Scale(row, count: cols)
            scales[r] = scale
            for c in 0..<cols { values[r * cols + c] = Int8((row[c] / scale).rounded(.toNearestOrEven)) }
        }
        self.values = values
        self.scales = scales
    }
}

/// The step that maps a row's largest magnitude to 127 (1 for an all-zero row).
@inline(__always)
func symmetricInt8Scale(_ row: UnsafePointer<Float>, count: Int) -> Float {
    var largest: Float = 0
    for c in 0..<count { largest = max(largest, abs(row[c])) }
    return largest > 0 ? largest / 127 : 1
}

/// The int8 copies of a model's linear weights, made on first use of each (offset, shape) and kept.
final class QuantizedWeights: Sendable {
    private struct Key: Hashable { let offset, rows, cols: Int }
    private let table = Mutex<[Key: QuantizedMatrix]>([:])

    func matrix(_ base: UnsafePointer<Float>, offset: Int, rows: Int, cols: Int) -> QuantizedMatrix {
        let key = Key(offset: offset, rows: rows, cols: cols)
        if let hit = table.withLock({ $0[key] }) { return hit }
        let made = QuantizedMatrix(base + offset, rows: rows, cols: cols)
        return table.withLock { table in
            if let raced = table[key] { return raced }
            table[key] = made
            return made
        }
    }
}

/// out[rows, outDim] (+)= inp[rows, inDim] · weight^T with the weight in int8 (per output row) and each input
/// row quantised on the fly to int8 by its own absolute maximum, products summed in int32 by oneDNN. Integer
/// sums are exact, so a row's result does not depend on the other rows in the call (batch invariance holds).
func matmul_int8_forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: QuantizedMatrix,
                         rows: Int, inDim: Int, outDim: Int, ldIn: Int? = nil, ldOut: Int? = nil, accumulate: Bool = false) {
    OpenMPThreads.useOnePerCaller()
    let ldIn = ldIn ?? inDim, ldOut = ldOut ?? outDim
    // u8 = int8 + 128; oneDNN subtracts the A offset (128) exactly.
    let activations = UnsafeMutablePointer<UInt8>.allocate(capacity: rows * inDim)
    let rowScales = UnsafeMutablePointer<Float>.allocate(capacity: rows)
    let sums = UnsafeMutablePointer<Int32>.allocate(capacity: rows * outDim)
    defer {
        activations.deallocate()
        rowScales.deallocate()
        sums.deallocate()
    }
    for r in 0..<rows {
        let row = inp + r * ldIn
        let scale = symmetricInt8Scale(row, count: inDim)
        rowScales[r] = scale
        let inverse = 1 / scale
        let quantized = activations + r * inDim
        for c in 0..<inDim {
            quantized[c] = UInt8(truncatingIfNeeded: Int32((row[c] * inverse).rounded(.toNearestOrEven)) &+ 128)
        }
    }
    var offsetC: Int32 = 0
    weight.values.withUnsafeBufferPointer { values in
        _ = dnnl_gemm_u8s8s32(CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "T")), CChar(UInt8(ascii: "F")),
                              Int64(rows), Int64(outDim), Int64(inDim), 1, activations, Int64(inDim), 128,
                              values.baseAddress, Int64(inDim), 0, 0, sums, Int64(outDim), &offsetC)
    }
    weight.scales.withUnsafeBufferPointer { columnScales in
        for r in 0..<rows {
            let target = out + r * ldOut, source = sums + r * outDim, rowScale = rowScales[r]
            if accumulate {
                for c in 0..<outDim { target[c] += Float(source[c]) * rowScale * columnScales[c] }
            } else {
                for c in 0..<outDim { target[c] = Float(source[c]) * rowScale * columnScales[c] }
            }
        }
    }
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
