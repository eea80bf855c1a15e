import Foundation
import T5

/// A resumable training state in one directory: the weights as a checkpoint directory, the optimiser's
/// moments, and the step. Written into a temporary directory, synced, then swapped in, so a kill at any
/// moment leaves the previous checkpoint or the new one whole.
public enum TrainingCheckpoint {
    struct State: Codable {
        var step: Int
        var updates: Int
        var job: String
    }

    public static func save(_ trainer: Trainer, job: String, to directory: URL, modelSource: URL) throws {
        let parent = directory.deletingLastPathComponent()
        let temporary = parent.appendingPathComponent(".\(directory.lastPathComponent).tmp-\(getpid())")
        try? FileManager.default.removeItem(at: temporary)
        try trainer.model.save(to: temporary, copyingFrom: modelSource)
        let m = trainer.optimizer.m, v = trainer.optimizer.v
        try m.withUnsafeBufferPointer { m in
            try v.withUnsafeBufferPointer { v in
                try writeSafeTensors([("m", [m.count], m), ("v", [v.count], v)],
                                     to: temporary.appendingPathComponent("optimizer.safetensors"))
            }
        }
        let state = State(step: trainer.step, updates: trainer.optimizer.updates, job: job)
        try writeAtomically(try JSONEncoder().encode(state), to: temporary.appendingPathComponent("state.json"))
        let old = parent.appendingPathComponent(".\(directory.lastPathComponent).old-\(getpid())")
        if FileManager.default.fileExists(atPath: directory.path) {
            try FileManager.default.moveItem(at: directory, to: old)
        }
        try FileManager.default.moveItem(at: temporary, to: directory)
        try? FileManager.default.removeItem(at: old)
    }

    /// Restores `trainer` from `directory` when it holds a checkpoint of the same job; returns its step
    /// (nil when there is none). A checkpoint of another job is an error, never silently reused.
    public static func restore(_ trainer: Trainer, job: String, from directory: URL) throws -> Int? {
        let stateURL = directory.appendingPathComponent("state.json")
        guard FileManager.default.fileExists(atPath: stateURL.path) else { return nil }
        let state = try JSONDecoder().decode(State.self, from: Data(contentsOf: stateURL))
        guard state.job == job else {
            throw CheckpointMismatch(path: directory.path)
        }
        trainer.model.load(try T5Model(directory: directory))
        let moments = try readSafeTensors(directory.appendingPathComponent("optimizer.safetensors"))
        trainer.optimizer.restore(m: moments["m"] ?? [], v: moments["v"] ?? [], updates: state.updates)
        trainer.step = state.step
        return state.step
    }

    public struct CheckpointMismatch: Error, CustomStringConvertible {
        public let path: String
        public var description: String {
            "\(path) holds the checkpoint of another training job (other data or settings): delete it or pass another --checkpoint-dir"
        }
    }
}
