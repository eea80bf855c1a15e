import Foundation

/// Joins the outputs of the n shards of one teacher job, refusing anything that would lose or double a query.
public enum TeacherMerge {
    /// Writes the records of `shards` (in shard order) to `output` and its job file; returns the query count.
    public static func merge(shards: [String], into output: String) throws -> Int {
        guard !shards.isEmpty else { throw TeacherError.merge("no shard files given") }
        var jobs: [(path: String, job: TeacherJob, shard: Shard)] = []
        for path in shards {
            guard FileManager.default.fileExists(atPath: path) else { throw TeacherError.merge("\(path) does not exist") }
            guard let job = try TeacherJob.read(for: path) else {
                throw TeacherError.merge("\(path) has no \(TeacherJob.path(for: path)): it was not written by the teacher")
            }
            guard let shard = Shard(parsing: job.shard) else {
                throw TeacherError.merge("\(TeacherJob.path(for: path)) holds a bad shard '\(job.shard)'")
            }
            jobs.append((path, job, shard))
        }
        let first = jobs[0]
        for other in jobs.dropFirst() {
            var a = other.job, b = first.job
            (a.shard, a.queries, b.shard, b.queries) = ("", 0, "", 0)
            if let difference = a.difference(from: b) {
                throw TeacherError.merge("\(other.path) is another job than \(first.path) (\(difference.field): "
                    + "\(difference.now) vs \(difference.was))")
            }
            if other.shard.count != first.shard.count {
                throw TeacherError.merge("\(other.path) is shard \(other.shard) but \(first.path) is shard \(first.shard)")
            }
        }
        let count = first.shard.count
        var byIndex: [Int: (path: String, job: TeacherJob)] = [:]
        for entry in jobs {
            if let earlier = byIndex[entry.shard.index] {
                throw TeacherError.merge("shard \(entry.shard) is given twice: \(earlier.path) and \(entry.path)")
            }
            byIndex[entry.shard.index] = (entry.path, entry.job)
        }
        if let missing = (0..<count).first(where: { byIndex[$0] == nil }) {
            throw TeacherError.merge("shard \(missing)/\(count) is missing (\(count - byIndex.count) of \(count) missing)")
        }
        var lines: [String] = []
        var owner: [String: String] = [:]
        for index in 0..<count {
            let (path, job) = byIndex[index]!
            let read = try TeacherRecord.read(path)
            if read.tornBytes > 0 {
                throw TeacherError.merge("\(path) ends in an unfinished line: shard \(index)/\(count) was stopped; rerun it")
            }
            for record in read.records {
                if let other = owner.updateValue(path, forKey: record.qid) {
                    throw TeacherError.merge("query \(record.qid) is in both \(other) and \(path)")
                }
                lines.append(record.jsonLine)
            }
            if read.records.count != job.queries {
                throw TeacherError.merge("\(path) holds \(read.records.count) of the \(job.queries) queries of shard "
                    + "\(index)/\(count): it has not finished; rerun it")
            }
        }
        let text = lines.map { $0 + "\n" }.joined()
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic) } catch {
            throw TeacherError.write(path: output, reason: error.localizedDescription)
        }
        var merged = first.job
        merged.shard = Shard.whole.description
        merged.queries = lines.count
        try merged.write(for: output)
        return lines.count
    }
}
