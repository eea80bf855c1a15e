import Foundation

public enum ModelStoreError: Error, Equatable, CustomStringConvertible {
    case empty(String)
    case corrupt(String, String)
    /// store, the current version, held versions published before it (newest first)
    case nothingToRollBackTo(String, current: String?, held: [String])
    /// A publish of a version that was rolled back: version, store, the directory given to publish, when it was
    /// rolled back, to what.
    case held(version: String, store: String, source: String, since: String, rolledBackTo: String)
    /// The store's directory does not exist.
    case noStore(String)
    case unknownVersion(String, store: String, available: [String])
    case io(String, String)
    /// The directory given to publish is not a checkpoint: directory, why.
    case notACheckpoint(String, String)
    /// The directory holds a training run's resumable state: directory, the files that show it.
    case trainingCheckpoint(String, [String])
    /// A checkpoint file that is a FIFO, device, socket or directory: path, what it is.
    case notARegularFile(String, String)
    /// path, size, limit
    case tooLarge(String, Int, Int)
    case noSpace(store: String, source: String, needed: Int, free: Int)
    case copyFailed(source: String, destination: String, reason: String)
    /// The validation refused the copy: the directory given to publish, why.
    case rejected(source: String, reason: String)

    public var description: String {
        switch self {
        case let .empty(root): return "model store \(root) has no current version yet: publish one first"
        case let .corrupt(root, reason): return "model store \(root): \(reason)"
        case let .nothingToRollBackTo(root, current, held):
            let before = current.map { "published before \($0)" } ?? "published"
            return "model store \(root) has no version \(before) to roll back to"
                + (held.isEmpty ? "" : " that is not held (rolled back: \(held.joined(separator: ", ")))")
                + "; give --to VERSION to make another version current (`rerank-admin store list --store \(root)` lists them)"
        case let .held(version, store, source, since, rolledBackTo):
            return "not publishing \(source): it is version \(version), which was rolled back in model store \(store) at "
                + "\(since) (to \(rolledBackTo)) and is held, so that rerunning what published it does not undo the "
                + "rollback. To serve it again: `rerank-admin publish \(source) --store \(store) --force`, or "
                + "`rerank-admin store unhold \(version) --store \(store)` and publish it again"
        case let .noStore(root): return "model store \(root) does not exist (no such directory)"
        case let .unknownVersion(version, store, available):
            return "no version \"\(version)\" in model store \(store) (a version id is the name of a directory in "
                + "\(store)/versions); available, newest first: "
                + (available.isEmpty ? "none" : available.joined(separator: ", "))
        case let .io(path, reason): return "\(path): \(reason)"
        case let .notACheckpoint(path, reason): return "\(path) is not a checkpoint directory to publish: \(reason)"
        case let .trainingCheckpoint(path, files):
            return "\(path) is a training checkpoint (it holds \(files.joined(separator: ", "))), not a model to serve: "
                + "publish the directory `rerank-admin distill` wrote with --output (or a transformers save_pretrained "
                + "export), not the resumable training state"
        case let .notARegularFile(path, kind):
            return "\(path) is \(kind), not a regular file: a published version holds regular files only"
        case let .tooLarge(path, size, limit):
            return "\(path) is \(formatBytes(size)), over the limit of \(formatBytes(limit)) for a config or tokenizer file"
        case let .noSpace(store, source, needed, free):
            return "\(store): not enough space to publish \(source): its checkpoint files need \(formatBytes(needed)), "
                + "the volume has \(formatBytes(free)) free: grow the volume or free space on it"
        case let .copyFailed(source, destination, reason):
            return "copying \(source) to \(destination): \(reason) (nothing was published)"
        case let .rejected(source, reason): return "not publishing \(source): \(reason)"
        }
    }
}
