import COpenBLAS
import Foundation

/// How many cores this process may use, and the one place OpenBLAS threading is set.
public enum CPUBudget {
    /// Online cores, capped by the cgroup v2 CPU quota (`cpu.max`, what a container's CPU limit sets):
    /// a pod limited to 2 CPUs on a 64-core host gets 2 workers, not 64 fighting over 2 CPUs' time.
    public static let cores: Int = {
        let online = ProcessInfo.processInfo.activeProcessorCount
        guard let quota = cgroupQuota(try? String(contentsOfFile: "/sys/fs/cgroup/cpu.max", encoding: .utf8)) else {
            return online
        }
        return max(1, min(online, Int(quota.rounded(.up))))
    }()

    /// CPUs allowed by a cgroup v2 `cpu.max` line ("200000 100000" is 2; "max 100000" is no limit).
    static func cgroupQuota(_ line: String?) -> Double? {
        guard let fields = line?.split(whereSeparator: \.isWhitespace), fields.count == 2,
              let quota = Double(fields[0]), let period = Double(fields[1]), quota > 0, period > 0
        else { return nil }
        return quota / period
    }

    /// Sets OpenBLAS's thread count once, at start-up, before any model runs (setting it per call from several
    /// threads races inside OpenBLAS). An `OPENBLAS_NUM_THREADS` in the environment wins. Returns the count
    /// in force.
    @discardableResult
    public static func configureBLAS(threads: Int) -> Int {
        if let fixed = ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"].flatMap(Int.init), fixed > 0 {
            return fixed
        }
        openblas_set_num_threads(Int32(threads))
        return threads
    }
}
