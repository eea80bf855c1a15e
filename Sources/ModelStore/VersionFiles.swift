import Crypto
import Foundation

/// Which files of a checkpoint directory make a version, and how they are copied in and named.
extension ModelStore {
    /// The rule, in words, for messages and documentation.
    public static let checkpointFileRule = """
        config.json, the weights (model.safetensors, or model.safetensors.index.json and the shards its weight_map \
        names), spiece.model and/or tokenizer.json, and if present generation_config.json, tokenizer_config.json, \
        special_tokens_map.json and README.md
        """

    /// Files copied when present besides config.json, the weights and the tokenizer.
    static let optionalFiles = ["generation_config.json", "tokenizer_config.json", "special_tokens_map.json", "README.md"]
    /// Files only a training run's resumable state holds (this project's distill checkpoints, transformers' Trainer).
    static let trainingStateFiles = ["optimizer.safetensors", "optimizer.pt", "optimizer.bin", "scheduler.pt",
                                     "scheduler.bin", "trainer_state.json", "rng_state.pth"]
    /// Largest config, tokenizer or index file (the tokenizer loader's own limit); weights are bounded by the volume.
    static let maxSmallFileBytes = 256 << 20

    /// The names to copy from `directory` (sorted) and one line for each other entry, which is not copied.
    static func checkpointFiles(in directory: URL) throws -> (names: [String], skipped: [String]) {
        let entries: [String]
        do { entries = try FileManager.default.contentsOfDirectory(atPath: directory.path) } catch {
            throw ModelStoreError.notACheckpoint(directory.path, "not a readable directory (\(error.localizedDescription))")
        }
        let present = Set(entries)
        let training = trainingStateFiles.filter(present.contains)
        guard training.isEmpty else { throw ModelStoreError.trainingCheckpoint(directory.path, training) }
        guard present.contains("config.json") else {
            throw ModelStoreError.notACheckpoint(directory.path, "it has no config.json")
        }
        var names = ["config.json"]
        var weightFiles: [String] = []
        if present.contains("model.safetensors") {
            names.append("model.safetensors")
        } else if present.contains("model.safetensors.index.json") {
            let index = directory.appendingPathComponent("model.safetensors.index.json").path
            let shards = try shardNames(index: index)
            for shard in shards where !present.contains(shard) {
                throw ModelStoreError.notACheckpoint(directory.path, "shard \(shard), named by \(index), is missing")
            }
            names.append("model.safetensors.index.json")
            weightFiles = shards
        } else {
            let hint = present.contains("pytorch_model.bin") ? " (pytorch_model.bin is not read: convert the checkpoint to safetensors)" : ""
            throw ModelStoreError.notACheckpoint(directory.path, "it has no model.safetensors or model.safetensors.index.json\(hint)")
        }
        let tokenizers = ["spiece.model", "tokenizer.json"].filter(present.contains)
        guard !tokenizers.isEmpty else {
            throw ModelStoreError.notACheckpoint(directory.path, "it has no spiece.model or tokenizer.json")
        }
        names += weightFiles + tokenizers + optionalFiles.filter(present.contains)
        for name in names where !weightFiles.contains(name) && name != "model.safetensors" {
            let path = directory.appendingPathComponent(name).path
            let size = try regularFileSize(path)
            guard size <= maxSmallFileBytes else { throw ModelStoreError.tooLarge(path, size, maxSmallFileBytes) }
        }
        let copied = Set(names)
        var skipped: [String] = []
        for name in entries.sorted() where !copied.contains(name) && !name.hasPrefix(".") {
            let path = directory.appendingPathComponent(name).path
            var info = stat()
            let what = stat(path, &info) != 0 ? "unreadable"
                : (info.st_mode & S_IFMT) == S_IFREG ? formatBytes(Int(info.st_size)) : fileKind(info.st_mode)
            skipped.append("not copying \(path) (\(what)): a published version holds only \(checkpointFileRule)")
        }
        return (names.sorted(), skipped)
    }

    /// The shard file names of a sharded checkpoint's index, each a plain file name.
    static func shardNames(index path: String) throws -> [String] {
        let data = try readSmallRegularFile(path)
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let weightMap = object["weight_map"] as? [String: String] else {
            throw ModelStoreError.notACheckpoint(path, "expected a JSON object with a string-valued weight_map")
        }
        let shards = Set(weightMap.values).sorted()
        for shard in shards where !isVersionName(shard) {
            throw ModelStoreError.notACheckpoint(path, "shard name \"\(shard)\" is not a plain file name")
        }
        return shards
    }

    /// First 16 hex digits of SHA-256 over each file's name and bytes, in name order.
    static func contentID(of directory: URL, names: [String]) throws -> String {
        var hash = SHA256()
        for name in names {
            try stream(directory.appendingPathComponent(name).path, name: name, into: &hash) { _, _ in }
        }
        return hexPrefix(hash)
    }

    static func hexPrefix(_ hash: SHA256) -> String {
        hash.finalize().prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    /// Reads the regular file at `path` (following links) in chunks into `hash` (framed by its name) and `body`.
    /// Never blocks on a FIFO or reads a device: those are refused before a byte is read. Reads exactly the size the
    /// file had when opened.
    static func stream(_ path: String, name: String, into hash: inout SHA256,
                               _ body: (UnsafeRawPointer, Int) throws -> Void) throws {
        let (fd, size) = try openRegularFile(path)
        defer { close(fd) }
        hash.update(data: Data(name.utf8))
        hash.update(data: Data([0]))
        let chunk = 4 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        var done = 0
        while done < size {
            let n = read(fd, buffer, min(chunk, size - done))
            if n < 0 {
                if errno == EINTR { continue }
                throw ModelStoreError.io(path, errnoText())
            }
            guard n > 0 else { throw ModelStoreError.io(path, "shrank while being read (\(done) of \(size) bytes)") }
            hash.update(bufferPointer: UnsafeRawBufferPointer(start: buffer, count: n))
            try body(buffer, n)
            done += n
        }
        hash.update(data: Data([0]))
    }

    /// Opens a regular file for reading: O_NONBLOCK, so that opening a FIFO returns at once, then fstat on what was
    /// opened. Returns the descriptor and the size.
    static func openRegularFile(_ path: String) throws -> (Int32, Int) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw ModelStoreError.io(path, errnoText()) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw ModelStoreError.notARegularFile(path, fileKind(info.st_mode)) }
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw ModelStoreError.io(path, errnoText()) }
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            let reason = (info.st_mode & S_IFMT) == S_IFREG ? errnoText() : fileKind(info.st_mode)
            close(fd)
            throw ModelStoreError.notARegularFile(path, reason)
        }
        return (fd, Int(info.st_size))
    }

    static func regularFileSize(_ path: String) throws -> Int {
        let (fd, size) = try openRegularFile(path)
        close(fd)
        return size
    }

    static func readSmallRegularFile(_ path: String) throws -> Data {
        var data = Data()
        var hash = SHA256()
        let size = try regularFileSize(path)
        guard size <= maxSmallFileBytes else { throw ModelStoreError.tooLarge(path, size, maxSmallFileBytes) }
        try stream(path, name: "", into: &hash) { bytes, count in data.append(bytes.assumingMemoryBound(to: UInt8.self), count: count) }
        return data
    }

    /// Writes all `count` bytes; the operating system's reason on failure.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> String? {
        var done = 0
        while done < count {
            let n = write(fd, bytes + done, count - done)
            if n < 0 {
                if errno == EINTR { continue }
                return errnoText()
            }
            done += n
        }
        return nil
    }

    static func fileKind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        case S_IFREG: return "a regular file"
        default: return "not a regular file"
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}

/// "12 bytes", "3.0 MiB", "1.25 GiB".
public func formatBytes(_ count: Int) -> String {
    if count < 1 << 20 { return "\(count) bytes" }
    if count < 1 << 30 { return String(format: "%.1f MiB", Double(count) / Double(1 << 20)) }
    return String(format: "%.2f GiB", Double(count) / Double(1 << 30))
}
