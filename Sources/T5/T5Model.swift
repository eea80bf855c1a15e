import COpenBLAS
import Dispatch
import Foundation
import T5Kernels

/// Token ids the model cannot run: checked before any work, so no input can crash the process.
public enum T5InputError: Error, Equatable, CustomStringConvertible {
    case emptyDecoderPrefix
    case emptyInput(index: Int)
    case tokenOutsideVocabulary(id: Int32, vocabSize: Int)

    public var description: String {
        switch self {
        case .emptyDecoderPrefix: return "the decoder prefix is empty"
        case let .emptyInput(index): return "input \(index) has no tokens"
        case let .tokenOutsideVocabulary(id, vocabSize): return "token id \(id) is outside the vocabulary of \(vocabSize)"
        }
    }
}

/// A T5 encoder-decoder held in one contiguous fp32 parameter block, scoring token sequences by the logits
/// of a few vocabulary entries after a short decoder prefix. Unchecked Sendable: the parameter block is
/// written only during init, and the tuning properties are set before the model is shared.
public final class T5Model: @unchecked Sendable {
    /// How a batch uses the cores. Measured on 2 cores, `.sequences` is the faster (see docs/BENCHMARKS.md).
    /// The BLAS thread count each mode expects is set once per process with `CPUBudget.configureBLAS`.
    public enum Parallelism: Sendable {
        /// One sequence per worker at a time, each with single-threaded BLAS (no oversubscription).
        case sequences
        /// Sequences one after another, each GEMM spread over the cores by OpenBLAS.
        case blas
    }

    /// The arithmetic of the linear layers. Norms, softmax, the relative bias and the read lm_head rows stay
    /// fp32 either way.
    public enum Precision: String, Sendable, CaseIterable {
        /// Exact fp32 (OpenBLAS sgemm): the default, the one that matches transformers to 1e-4.
        case fp32
        /// The encoder's weights quantised per output row (when set), activations per row, int32 sums (oneDNN).
        case int8
    }

    public let config: T5Config
    /// Set before the model is shared between threads.
    public var parallelism: Parallelism = .sequences
    /// Set before the model is shared between threads; setting `.int8` quantises the weights (once).
    public var precision: Precision = .fp32 {
        didSet {
            guard precision != oldValue else { return }
            quantized = precision == .int8 ? QuantizedWeights(base: block, layout: layout, config: config) : nil
        }
    }
    private var quantized: QuantizedWeights?
    private let workspaces = WorkspacePool()
    /// Workers of `.sequences` mode; set before the model is shared between threads.
    public var workers = CPUBudget.cores
    /// Most token rows packed into one forward pass (a longer single sequence forms its own pack); bounds
    /// activation memory while keeping GEMMs tall enough to amortise streaming the weights.
    var maxPackRows = 2048
    let layout: T5ParameterLayout
    /// The parameter block; immutable after init, hence safe to read from several threads.
    private let block: UnsafeMutablePointer<Float>

    /// Loads `config.json` and `model.safetensors` (or the sharded index and its shards) from `directory`.
    public convenience init(directory: URL) throws {
        let loader = CheckpointLoader(directory: directory)
        let config = try T5Config.load(from: directory.appendingPathComponent("config.json")) {
            try loader.storedTensorNames().contains("lm_head.weight")
        }
        try config.validate(path: directory.appendingPathComponent("config.json").path)
        let layout = try T5ParameterLayout(config: config)
        let plan = try loader.plan(layout)  // before anything is allocated
        try self.init(config: config, layout: layout) { block in
            try loader.load(plan, into: block)
        }
    }

    /// Builds a model in memory: `parameter` is called once per tensor with its Hugging Face name, shape and
    /// destination (row-major, `shape.reduce(1, *)` floats) and must fill it. Used for random weights in
    /// tests and benchmarks.
    public convenience init(config: T5Config,
                            parameter: (_ name: String, _ shape: [Int], _ destination: UnsafeMutableBufferPointer<Float>) throws -> Void) throws {
        try config.validate()
        let layout = try T5ParameterLayout(config: config)
        try self.init(config: config, layout: layout) { block in
            for tensor in layout.tensors {
                try parameter(tensor.name, tensor.shape, UnsafeMutableBufferPointer(start: block + tensor.offset, count: tensor.count))
            }
        }
    }

    private init(config: T5Config, layout: T5ParameterLayout, fill: (UnsafeMutablePointer<Float>) throws -> Void) throws {
        let bytes = layout.parameterCount.multipliedReportingOverflow(by: MemoryLayout<Float>.size)
        let memory = ProcessInfo.processInfo.physicalMemory
        guard !bytes.overflow, UInt64(bytes.partialValue) < memory else {
            throw CheckpointError.tooLarge(
                path: "<model>", reason: "\(layout.parameterCount) fp32 parameters need more than this machine's "
                    + "\(memory >> 20) MiB of memory")
        }
        self.config = config
        self.layout = layout
        block = UnsafeMutablePointer<Float>.allocate(capacity: layout.parameterCount)
        // Every stored property is set, so if `fill` throws, deinit runs and frees the block.
        try fill(block)
    }

    deinit {
        block.deallocate()
    }

    /// The parameter block, for copying (training starts from it).
    var parameterBlock: UnsafePointer<Float> { UnsafePointer(block) }

    /// The instruction set the elementwise kernels run on this CPU: "avx2+fma" or "baseline"
    /// (RERANK_KERNELS=baseline forces the fallback).
    public static var kernelISA: String { String(cString: t5_kernels_isa()) }

    /// The largest int8 weight level `.int8` uses here: 127 where oneDNN has VNNI dot products, 63 where it does
    /// not (see `QuantizedMatrix.weightLevels`).
    public static var int8WeightLevels: Int { Int(QuantizedMatrix.weightLevels) }

    public static var int8Description: String {
        int8WeightLevels == 127 ? "int8 weights +-127 (VNNI)" : "int8 weights +-63 (no VNNI: 7 bits avoid int16 saturation)"
    }

    /// Number of fp32 parameters in the block.
    public var parameterCount: Int { layout.parameterCount }

    /// For each input sequence (token ids, already ending in eos), runs the encoder, then the decoder on
    /// `decoderPrefix`, and returns the logits at the LAST decoder position for `vocabIDs` only:
    /// result[i][j] = logit of vocabIDs[j] for inputs[i]. Sequences may have different lengths; each is run
    /// at its true length (no padding), so its result does not depend on the rest of the batch beyond GEMM
    /// rounding (a few 1e-7 relative; the same batch in the same order gives identical bits).
    /// Throws `T5InputError` unless every id is in [0, vocabSize) and every input and the prefix are non-empty.
    public func logits(inputs: [[Int32]], decoderPrefix: [Int32], vocabIDs: [Int32]) throws(T5InputError) -> [[Float]] {
        let vocab = Int32(config.vocabSize)
        guard !decoderPrefix.isEmpty else { throw .emptyDecoderPrefix }
        for id in decoderPrefix + vocabIDs where id < 0 || id >= vocab {
            throw .tokenOutsideVocabulary(id: id, vocabSize: config.vocabSize)
        }
        for (index, input) in inputs.enumerated() {
            guard !input.isEmpty else { throw .emptyInput(index: index) }
            for id in input where id < 0 || id >= vocab {
                throw .tokenOutsideVocabulary(id: id, vocabSize: config.vocabSize)
            }
        }
        var results = [[Float]](repeating: [], count: inputs.count)
        let lengths = inputs.map(\.count)
        switch parallelism {
        case .sequences:
            let groups = balancedGroups(lengths: lengths, count: workers)
            results.withUnsafeMutableBufferPointer { out in
                // Each worker writes only the slots of its own group: disjoint, so no race.
                nonisolated(unsafe) let out = out
                DispatchQueue.concurrentPerform(iterations: groups.count) { g in
                    for chunk in chunked(groups[g], lengths: lengths, maxPackRows: maxPackRows) {
                        let scored = score(chunk.map { inputs[$0] }, decoderPrefix: decoderPrefix, vocabIDs: vocabIDs)
                        for (index, logits) in zip(chunk, scored) { out[index] = logits }
                    }
                }
            }
        case .blas:
            for chunk in chunked(Array(inputs.indices), lengths: lengths, maxPackRows: maxPackRows) {
                let scored = score(chunk.map { inputs[$0] }, decoderPrefix: decoderPrefix, vocabIDs: vocabIDs)
                for (index, logits) in zip(chunk, scored) { results[index] = logits }
            }
        }
        return results
    }

    /// Scores sequences packed into one set of token rows.
    private func score(_ sequences: [[Int32]], decoderPrefix: [Int32], vocabIDs: [Int32]) -> [[Float]] {
        workspaces.withWorkspace { workspace in
            var weights = T5Weights(config: config, layout: layout, base: UnsafePointer(block))
            if let quantized { weights.int8 = (quantized, workspace.int8) }
            let pack = PackedSequences(lengths: sequences.map(\.count))
            let encoded = workspace.encoded.reserve(pack.rows * config.dModel)
            let hidden = workspace.decoded.reserve(sequences.count * config.dModel)
            encoder_forward(encoded, sequences: sequences, pack: pack, weights: weights, workspace: workspace)
            decoder_forward(hidden, prefix: decoderPrefix, encoded: encoded, pack: pack, weights: weights,
                            workspace: workspace)
            return (0..<sequences.count).map { s in
                lm_head_forward(hidden: hidden + s * config.dModel, vocabIDs: vocabIDs, weights: weights)
            }
        }
    }
}
