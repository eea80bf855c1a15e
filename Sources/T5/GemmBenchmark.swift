import COpenBLAS
import Dispatch
import Foundation

/// Measures the GEMM alone at a given shape, as the model calls it (row-major, B transposed): OpenBLAS sgemm
/// for fp32, oneDNN's u8 x s8 -> s32 for int8. The model's throughput is then read against what the library
/// reaches without any surrounding work.
public enum GemmBenchmark {
    public struct Rate: Sendable {
        /// GFLOP per second of wall time.
        public var wall: Double
        /// GFLOP per CPU-second of this process, steadier than `wall` when other processes share the cores.
        public var perCPUSecond: Double
    }

    /// Rate of C[m, n] = A[m, k] · B[n, k]^T. With `concurrent` > 1, that many independent GEMMs run at once on
    /// Dispatch workers with single-threaded BLAS (the model's `.sequences` mode); with 1, BLAS uses
    /// `blasThreads` threads.
    public static func rate(m: Int, n: Int, k: Int, repetitions: Int, concurrent: Int, blasThreads: Int) -> Rate {
        openblas_set_num_threads(Int32(concurrent > 1 ? 1 : blasThreads))
        // Each worker uses only its own operand.
        nonisolated(unsafe) let operands = (0..<concurrent).map { _ in
            (a: [Float](repeating: 0.01, count: m * k), b: [Float](repeating: 0.02, count: n * k),
             c: UnsafeMutablePointer<Float>.allocate(capacity: m * n))
        }
        defer { operands.forEach { $0.c.deallocate() } }
        return measure(m: m, n: n, k: k, repetitions: repetitions, concurrent: concurrent) { index in
            let operand = operands[index]
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k),
                        1, operand.a, Int32(k), operand.b, Int32(k), 0, operand.c, Int32(n))
        }
    }

    /// Rate of the int8 GEMM `matmul_int8_forward` runs (u8 activations with offset 128, s8 weights, s32
    /// sums), `concurrent` at once with one thread each; multiply-adds count as 2 operations, as for fp32.
    public static func int8Rate(m: Int, n: Int, k: Int, repetitions: Int, concurrent: Int) -> Rate {
        nonisolated(unsafe) let operands = (0..<concurrent).map { _ in
            (a: [UInt8](repeating: 129, count: m * k), b: [Int8](repeating: 3, count: n * k),
             c: UnsafeMutablePointer<Int32>.allocate(capacity: m * n))
        }
        defer { operands.forEach { $0.c.deallocate() } }
        return measure(m: m, n: n, k: k, repetitions: repetitions, concurrent: concurrent) { index in
            let operand = operands[index]
            int8_gemm(operand.c, operand.a, operand.b, m: m, n: n, k: k)
        }
    }

    private static func measure(m: Int, n: Int, k: Int, repetitions: Int, concurrent: Int,
                                _ multiply: @escaping @Sendable (Int) -> Void) -> Rate {
        @Sendable func run(_ index: Int) {
            for _ in 0..<repetitions { multiply(index) }
        }
        run(0)  // warm-up: page in the operands, start BLAS threads
        let cpuStart = processCPUSeconds()
        let start = DispatchTime.now().uptimeNanoseconds
        DispatchQueue.concurrentPerform(iterations: concurrent, execute: run)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let cpuSeconds = processCPUSeconds() - cpuStart
        let gflop = 2 * Double(m) * Double(n) * Double(k) * Double(repetitions * concurrent) / 1e9
        return Rate(wall: gflop / seconds, perCPUSecond: gflop / cpuSeconds)
    }

    /// User + system CPU seconds of this process so far, all threads.
    public static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        return user + system
    }
}
