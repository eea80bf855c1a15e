import Foundation

/// What a teacher output file holds, kept beside it as `OUTPUT.job.json`: a rerun resumes only the same
/// job, and teacher-merge checks the shards against it.
public struct TeacherJob: Codable, Equatable, Sendable {
    public var input: String
    public var teacher: String
    public var method: String
    public var topK: Int
    public var shard: String
    /// Queries this shard owns.
    public var queries: Int

    enum CodingKeys: String, CodingKey {
        case input, teacher, method, topK = "top_k", shard, queries
    }

    public init(input: String, teacher: String, method: String, topK: Int, shard: Shard, queries: Int) {
        self.input = input
        self.teacher = teacher
        self.method = method
        self.topK = topK
        self.shard = shard.description
        self.queries = queries
    }

    public static func path(for output: String) -> String { output + ".job.json" }

    public static func read(for output: String) throws -> TeacherJob? {
        guard let data = FileManager.default.contents(atPath: path(for: output)) else { return nil }
        do { return try JSONDecoder().decode(TeacherJob.self, from: data) } catch {
            throw TeacherError.unreadable(path: path(for: output))
        }
    }

    public func write(for output: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do { try encoder.encode(self).write(to: URL(fileURLWithPath: Self.path(for: output)), options: .atomic) } catch {
            throw TeacherError.write(path: Self.path(for: output), reason: "\(error.localizedDescription)")
        }
    }

    /// The first field where `other` describes different work, if any.
    func difference(from other: TeacherJob) -> (field: String, was: String, now: String)? {
        let fields: [(String, String, String)] = [
            ("input", other.input, input), ("teacher", other.teacher, teacher), ("method", other.method, method),
            ("top_k", "\(other.topK)", "\(topK)"), ("shard", other.shard, shard),
            ("queries", "\(other.queries)", "\(queries)"),
        ]
        return fields.first { $0.1 != $0.2 }
    }
}

/// A teacher output file opened for appending, one flushed line per finished query. Reopening it for the
/// same job keeps every complete line, drops the torn tail a killed run may leave, and reports which
/// queries are done.
public final class TeacherOutput {
    public let path: String
    public private(set) var done: Set<String>
    private let descriptor: Int32

    public init(path: String, job: TeacherJob) throws {
        self.path = path
        var done = Set<String>()
        var keep = 0
        if FileManager.default.fileExists(atPath: path), let previous = try TeacherJob.read(for: path) {
            if let difference = job.difference(from: previous) {
                throw TeacherError.otherJob(path: path, field: difference.field, was: difference.was, now: difference.now)
            }
            let existing = try TeacherRecord.read(path)
            done = Set(existing.records.map(\.qid))
            keep = existing.completeBytes
        } else {
            // A new output, or one without its job file, which is safe to take over only when empty.
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            if size > 0 { throw TeacherError.noJobFile(path: path) }
            try job.write(for: path)
        }
        self.done = done
        self.descriptor = try Self.open(path, keeping: keep)
    }

    deinit { close(descriptor) }

    private static func open(_ path: String, keeping bytes: Int) throws -> Int32 {
        let fd = Foundation.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TeacherError.write(path: path, reason: String(cString: strerror(errno))) }
        guard ftruncate(fd, off_t(bytes)) == 0 else {
            throw TeacherError.write(path: path, reason: String(cString: strerror(errno)))
        }
        return fd
    }

    /// Appends one record with a single write and syncs it, so a kill leaves whole lines (and at worst one
    /// torn last line, which the next open drops).
    public func append(_ record: TeacherRecord) throws {
        let line = Array((record.jsonLine + "\n").utf8)
        var written = 0
        while written < line.count {
            let n = line[written...].withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw TeacherError.write(path: path, reason: String(cString: strerror(errno)))
            }
            written += n
        }
        fsync(descriptor)
        done.insert(record.qid)
    }
}
