import Crypto
import Foundation

/// A directory of immutable model versions and a `current` symlink that says which one serves:
///
///     STORE/versions/<sha256 prefix of the files>/   one checkpoint directory per version, never modified
///     STORE/current -> versions/<id>                 flipped atomically (a new symlink renamed over it)
///     STORE/history                                  one line per flip: id, time, what flipped it
///     STORE/.lock                                    held while publishing or rolling back
///
/// Servers that share the store (a Kubernetes volume, NFS) watch `current` and hot-swap when it changes.
public struct ModelStore: Sendable {
    public let root: URL

    public init(root: URL) {
        self.root = root.standardizedFileURL
    }

    public var versionsDirectory: URL { root.appendingPathComponent("versions", isDirectory: true) }
    public var currentLink: URL { root.appendingPathComponent("current") }
    var historyFile: URL { root.appendingPathComponent("history") }

    /// The version `current` names, or nil when nothing was published yet.
    public func currentVersion() throws -> String? {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: currentLink.path) else {
            if FileManager.default.fileExists(atPath: currentLink.path) {
                throw ModelStoreError.corrupt(root.path, "current exists but is not a symbolic link")
            }
            return nil
        }
        return URL(fileURLWithPath: target).lastPathComponent
    }

    public func directory(of version: String) -> URL { versionsDirectory.appendingPathComponent(version, isDirectory: true) }

    /// The directory `current` points to.
    public func currentDirectory() throws -> URL {
        guard let version = try currentVersion() else { throw ModelStoreError.empty(root.path) }
        return directory(of: version)
    }

    /// Versions in the order they were made current (oldest first), each once, at its latest position.
    public func history() -> [String] {
        guard let text = try? String(contentsOf: historyFile, encoding: .utf8) else { return [] }
        var order: [String] = []
        for line in text.split(separator: "\n") {
            guard let id = line.split(separator: "\t").first.map(String.init) else { continue }
            order.removeAll { $0 == id }
            order.append(id)
        }
        return order
    }

    /// Copies `source` in as an immutable version (its id: the first 16 hex digits of the SHA-256 of its
    /// files), lets `validate` load it, flips `current` to it and keeps the `keep` most recent versions.
    /// A version that fails validation is removed again and `current` is left as it was.
    @discardableResult
    public func publish(_ source: URL, keep: Int, validate: (URL) throws -> Void) throws -> String {
        try withLock {
            let id = try Self.contentID(of: source)
            let destination = directory(of: id)
            let isNew = !FileManager.default.fileExists(atPath: destination.path)
            if isNew { try copyIn(source, as: destination) }
            do { try validate(destination) } catch {
                if isNew { try? FileManager.default.removeItem(at: destination) }
                throw error
            }
            try flip(to: id, action: "publish \(source.path)")
            prune(keep: keep)
            return id
        }
    }

    /// Flips `current` back to `version`, or to the version that was current before it.
    @discardableResult
    public func rollback(to version: String? = nil) throws -> String {
        try withLock {
            let current = try currentVersion()
            let target: String
            if let version {
                target = version
            } else {
                guard let previous = history().filter({ $0 != current })
                    .last(where: { FileManager.default.fileExists(atPath: directory(of: $0).path) }) else {
                    throw ModelStoreError.nothingToRollBackTo(root.path)
                }
                target = previous
            }
            guard FileManager.default.fileExists(atPath: directory(of: target).path) else {
                throw ModelStoreError.unknownVersion(target, available: history().reversed())
            }
            try flip(to: target, action: "rollback")
            return target
        }
    }

    private func flip(to id: String, action: String) throws {
        let temporary = root.appendingPathComponent(".current-\(getpid())")
        unlink(temporary.path)
        guard symlink("versions/\(id)", temporary.path) == 0, rename(temporary.path, currentLink.path) == 0 else {
            throw ModelStoreError.io(currentLink.path, String(cString: strerror(errno)))
        }
        let line = "\(id)\t\(ISO8601DateFormatter().string(from: Date()))\t\(action)\n"
        if let handle = try? FileHandle(forWritingTo: historyFile) {
            handle.seekToEndOfFile()
            handle.write(Data(line.utf8))
            try? handle.synchronize()
            try? handle.close()
        } else {
            try Data(line.utf8).write(to: historyFile)
        }
        syncDirectory(root)
    }

    private func copyIn(_ source: URL, as destination: URL) throws {
        try FileManager.default.createDirectory(at: versionsDirectory, withIntermediateDirectories: true)
        let incoming = versionsDirectory.appendingPathComponent(".incoming-\(getpid())", isDirectory: true)
        try? FileManager.default.removeItem(at: incoming)
        try FileManager.default.createDirectory(at: incoming, withIntermediateDirectories: true)
        for name in try Self.files(in: source) {
            let target = incoming.appendingPathComponent(name)
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: target)
            let fd = open(target.path, O_RDONLY)
            if fd >= 0 { fsync(fd); close(fd) }
        }
        try FileManager.default.moveItem(at: incoming, to: destination)
        syncDirectory(versionsDirectory)
    }

    private func prune(keep: Int) {
        let current = try? currentVersion()
        let kept = Set(history().suffix(max(keep, 1))).union([current].compactMap { $0 })
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: versionsDirectory.path) else { return }
        for name in names where !name.hasPrefix(".") && !kept.contains(name) {
            try? FileManager.default.removeItem(at: directory(of: name))
        }
    }

    private func withLock<T>(_ body: () throws -> T) throws -> T {
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let fd = open(root.appendingPathComponent(".lock").path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ModelStoreError.io(root.path, String(cString: strerror(errno))) }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { throw ModelStoreError.io(root.path, String(cString: strerror(errno))) }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    private func syncDirectory(_ url: URL) {
        let fd = open(url.path, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
    }

    /// The regular files of a checkpoint directory, sorted (subdirectories are not part of a checkpoint).
    static func files(in directory: URL) throws -> [String] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory.path) } catch {
            throw ModelStoreError.io(directory.path, "not a readable directory")
        }
        return names.filter { name in
            var isDirectory: ObjCBool = false
            return !name.hasPrefix(".") && FileManager.default.fileExists(
                atPath: directory.appendingPathComponent(name).path, isDirectory: &isDirectory) && !isDirectory.boolValue
        }.sorted()
    }

    /// First 16 hex digits of SHA-256 over each file's name and bytes, in name order.
    static func contentID(of directory: URL) throws -> String {
        var hash = SHA256()
        for name in try files(in: directory) {
            guard let handle = FileHandle(forReadingAtPath: directory.appendingPathComponent(name).path) else {
                throw ModelStoreError.io(directory.appendingPathComponent(name).path, "cannot be read")
            }
            defer { try? handle.close() }
            hash.update(data: Data(name.utf8))
            hash.update(data: Data([0]))
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hash.update(data: chunk) }
            hash.update(data: Data([0]))
        }
        return hash.finalize().prefix(8).map { String(format: "%02x", $0) }.joined()
    }
}

public enum ModelStoreError: Error, Equatable, CustomStringConvertible {
    case empty(String)
    case corrupt(String, String)
    case nothingToRollBackTo(String)
    case unknownVersion(String, available: [String])
    case io(String, String)

    public var description: String {
        switch self {
        case let .empty(root): return "model store \(root) has no current version yet: publish one first"
        case let .corrupt(root, reason): return "model store \(root): \(reason)"
        case let .nothingToRollBackTo(root): return "model store \(root) has no earlier version to roll back to"
        case let .unknownVersion(version, available):
            return "no version \(version) in the store; available, newest first: \(available.joined(separator: ", "))"
        case let .io(path, reason): return "\(path): \(reason)"
        }
    }
}
