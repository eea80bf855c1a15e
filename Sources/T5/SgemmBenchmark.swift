import COpenBLAS
import Dispatch
import Foundation

/// Measures OpenBLAS sgemm alone at a given shape, as the model calls it (row-major, B transposed), so the
/// model's throughput can be compared with what the library reaches without any surrounding work.
public enum SgemmBenchmark {
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
        @Sendable func run(_ index: Int) {
            let operand = operands[index]
            for _ in 0..<repetitions {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k),
                            1, operand.a, Int32(k), operand.b, Int32(k), 0, operand.c, Int32(n))
            }
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
