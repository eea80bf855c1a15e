import Synchronization

/// A buffer that keeps its memory from one use to the next and grows when asked for more. Fresh
/// multi-megabyte buffers cost a page fault per 4 KiB page on every call; reused ones cost nothing.
final class ScratchBuffer<Element> {
    private var pointer: UnsafeMutablePointer<Element>?
    private var capacity = 0

    /// At least `count` elements, uninitialised; valid until the next call.
    func reserve(_ count: Int) -> UnsafeMutablePointer<Element> {
        if let pointer, capacity >= count { return pointer }
        pointer?.deallocate()
        capacity = max(count, 1)
        let fresh = UnsafeMutablePointer<Element>.allocate(capacity: capacity)
        pointer = fresh
        return fresh
    }

    deinit { pointer?.deallocate() }
}

/// The activations of one scoring call (encoder, decoder, int8 staging), owned by one thread at a time.
final class ForwardWorkspace {
    let encoded = ScratchBuffer<Float>()
    let decoded = ScratchBuffer<Float>()
    let residual = ScratchBuffer<Float>()
    let normed = ScratchBuffer<Float>()
    let qkv = ScratchBuffer<Float>()
    let folded = ScratchBuffer<Float>()
    let attended = ScratchBuffer<Float>()
    let hidden = ScratchBuffer<Float>()
    let scores = ScratchBuffer<Float>()
    let positionBias = ScratchBuffer<Float>()
    let int8 = Int8Scratch()
}

/// The staging buffers of `matmul_int8_forward`: quantised activations, their row scales, the int32 sums.
final class Int8Scratch {
    let activations = ScratchBuffer<UInt8>()
    let rowScales = ScratchBuffer<Float>()
    let sums = ScratchBuffer<Int32>()
}

/// Workspaces lent to the threads scoring at the moment; a model keeps as many as ran at once (one per worker).
final class WorkspacePool: Sendable {
    // Unchecked: a workspace is used by the one thread that took it until it is put back.
    private struct Idle: @unchecked Sendable { var workspaces: [ForwardWorkspace] = [] }
    private let idle = Mutex(Idle())

    func withWorkspace<Result>(_ body: (ForwardWorkspace) throws -> Result) rethrows -> Result {
        let workspace = idle.withLock { $0.workspaces.popLast() } ?? ForwardWorkspace()
        defer { idle.withLock { $0.workspaces.append(workspace) } }
        return try body(workspace)
    }
}
