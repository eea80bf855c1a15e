import ArgumentParser
import Dispatch
import Foundation
import Distillation
import T5

/// `rerank-admin bench`: documents/s of pointwise scoring (encoder + one decoder step + one lm_head row) on
/// random weights, plus OpenBLAS sgemm alone at the model's shapes for comparison.
/// Inputs come from the same splitmix64 stream as Scripts/bench/pytorch_pointwise.py, so both score identical ids.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmark pointwise scoring with random weights at a FLAN-T5 shape.")

    enum Shape: String, ExpressibleByArgument, CaseIterable {
        case small, base

        var config: T5Config {
            switch self {
            case .small:
                return T5Config(vocabSize: 32128, dModel: 512, dKV: 64, dFF: 1024, numHeads: 6, numLayers: 8)
            case .base:
                return T5Config(vocabSize: 32128, dModel: 768, dKV: 64, dFF: 2048, numHeads: 12, numLayers: 12)
            }
        }
    }

    enum Threads: String, ExpressibleByArgument, CaseIterable {
        case sequences, blas

        var parallelism: T5Model.Parallelism { self == .sequences ? .sequences : .blas }
    }

    @Option(help: "Model shape: small or base.") var shape: Shape = .small
    @Option(help: "Documents per batch.") var batch = 16
    @Option(help: "Mean document length in tokens; lengths vary uniformly over [0.75, 1.25] x this.") var tokens = 256
    @Option(help: "Timed batches (after one warm-up batch).") var iterations = 3
    @Option(help: "sequences: one document per core, single-threaded BLAS; blas: one document at a time, threaded BLAS.")
    var threads: Threads = .sequences
    @Option(help: "Seed of the document ids.") var seed: UInt64 = 1
    @Option(help: "fp32 or int8 arithmetic in the linear layers (scoring only).") var precision: T5Model.Precision = .fp32
    @Flag(help: "Also measure sgemm alone at the model's largest shapes.") var sgemm = false
    @Option(help: "Load this checkpoint directory instead of random weights (--shape is then ignored); reports resident memory.")
    var model: String?
    @Flag(help: ArgumentHelp("Cost report: seconds per query of the pairwise teacher (all ordered pairs) against the "
        + "pointwise student on the same --candidates, one query's prompts at a time."))
    var cost = false
    @Option(help: "Candidates per query of --cost.") var candidates = 20
    @Flag(help: ArgumentHelp("Training benchmark: RankNet steps (forward, backward, clipping, AdamW) over --batch "
        + "documents in queries of --candidates, the same documents as Scripts/bench/pytorch_train.py."))
    var train = false
    @Option(help: ArgumentHelp("Also write the benchmark documents' scores here as JSON: the ▁Yes logit and its "
        + "log-probability over the whole vocabulary, one per document (to compare precisions and engines "
        + "on identical inputs: Scripts/bench/int8_quality.py).", valueName: "file"))
    var scoresOut: String?
    @Option(help: "Passage length in tokens of --cost (PRP cuts passages to 100 words, about 130 tokens).")
    var passageTokens = 100

    /// Checked when the command runs (not in validate()), so a wrong value exits 64 without the usage screen.
    func checkFlags() throws {
        guard batch > 0, tokens >= 4, iterations > 0, candidates >= 2, passageTokens >= 4 else {
            throw CommandFailure.usage("--batch and --iterations must be positive, --tokens and --passage-tokens at least 4, "
                + "--candidates at least 2")
        }
    }

    func run() throws {
        try checkFlags()
        let cores = CPUBudget.cores
        CPUBudget.configureBLAS(threads: threads == .blas ? cores : 1)
        let model: T5Model
        if let directory = self.model {
            model = try T5Model(directory: URL(fileURLWithPath: directory))
            let weightsMiB = Double(model.parameterCount * 4) / 1_048_576
            let residentMiB = residentBytes() / 1_048_576
            print(String(format: "loaded %@: fp32 weights %.1f MiB, resident %.1f MiB (%.2fx)", directory, weightsMiB,
                         residentMiB, residentMiB / weightsMiB))
        } else {
            let config = shape.config
            var generator = SplitMix64(state: 0x5EED)
            model = try T5Model(config: config) { name, _, destination in
                fillRandom(name: name, destination: destination, dModel: config.dModel, generator: &generator)
            }
        }
        let config = model.config
        model.parallelism = threads.parallelism
        model.precision = precision
        guard config.vocabSize >= 4 else {
            throw CommandFailure("--model \(self.model ?? ""): vocab_size \(config.vocabSize) is too small to benchmark (need 4)")
        }
        if cost { return try reportCost(model) }
        if train { return try reportTraining(model) }
        let documents = benchDocuments(seed: seed, count: batch, meanLength: tokens, vocabSize: config.vocabSize)
        let yes: [Int32] = [Int32(min(2163, config.vocabSize - 1))]  // ▁Yes in the T5 vocabulary

        _ = try model.logits(inputs: documents, decoderPrefix: [0], vocabIDs: yes)
        if let scoresOut {
            try CommandFailure.naming("--scores-out") { try writeScores(model, documents: documents, yes: yes[0], to: scoresOut) }
        }
        let cpuStart = GemmBenchmark.processCPUSeconds()
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<iterations {
            _ = try model.logits(inputs: documents, decoderPrefix: [0], vocabIDs: yes)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let cpuSeconds = GemmBenchmark.processCPUSeconds() - cpuStart
        let docsPerSecond = Double(batch * iterations) / seconds
        let flops = documents.map { pointwiseFLOPs(config, length: $0.count) }.reduce(0, +) * Double(iterations)
        let lengths = documents.map(\.count)
        print("shape=\(self.model ?? shape.rawValue) batch=\(batch) tokens=\(lengths.min()!)...\(lengths.max()!) (mean \(lengths.reduce(0, +) / batch))"
              + " threads=\(threads.rawValue) cores=\(cores) iterations=\(iterations) precision=\(precision.rawValue)"
              + " kernels=\(T5Model.kernelISA)" + (precision == .int8 ? ", \(T5Model.int8Description)" : ""))
        print(String(format: "swift docs/s %.2f  GFLOP/s %.1f  (%.1f ms/batch)", docsPerSecond, flops / seconds / 1e9,
                     seconds / Double(iterations) * 1000))
        // CPU time is steadier than wall time when other processes share the cores.
        print(String(format: "swift CPU %.2f s: docs per CPU-second %.2f, GFLOP per CPU-second %.1f", cpuSeconds,
                     Double(batch * iterations) / cpuSeconds, flops / cpuSeconds / 1e9))
        reportPeak(config, modelGFLOPs: flops / seconds / 1e9, cores: cores)

        if sgemm {
            // The model's GEMMs: projections over a pack of token rows (a worker's share of the batch), and the
            // per-head attention scores q k^T over one sequence.
            let d = config.dModel, inner = config.innerDim, ff = config.dFF
            let rows = min(2048, (batch + cores - 1) / cores * tokens)
            let shapes = [("qkv", rows, 3 * inner, d), ("wi_0|wi_1", rows, 2 * ff, d), ("wo", rows, d, ff),
                          ("o", rows, d, inner), ("q k^T", tokens, tokens, config.dKV)]
            for (label, m, n, k) in shapes {
                let repetitions = max(2, Int(2e10 / (2 * Double(m * n * k))))
                let alone = GemmBenchmark.rate(m: m, n: n, k: k, repetitions: repetitions, concurrent: cores,
                                                blasThreads: 1)
                let spread = GemmBenchmark.rate(m: m, n: n, k: k, repetitions: repetitions, concurrent: 1,
                                                 blasThreads: cores)
                let shape = String(format: "sgemm %-9@ m=%4d n=%4d k=%4d:", label, m, n, k)
                let aloneText = String(format: "%6.1f GFLOP/s (%5.1f per CPU-s)", alone.wall, alone.perCPUSecond)
                let spreadText = String(format: "%6.1f GFLOP/s (%5.1f per CPU-s)", spread.wall, spread.perCPUSecond)
                print("\(shape) \(cores) x 1-thread \(aloneText); \(cores) BLAS threads \(spreadText)")
            }
        }
    }
}

extension BenchCommand {
    /// Prompt lengths: the instructdistill template with a short query adds about 40 tokens to the passage,
    /// the PRP template about 60 to its two passages (counted with the T5 tokenizer).
    func reportCost(_ model: T5Model) throws {
        let vocab = model.config.vocabSize
        let clamp = { (id: Int32) in min(id, Int32(vocab - 1)) }
        let pointwise = benchDocuments(seed: seed, count: candidates, meanLength: passageTokens + 40, vocabSize: vocab)
        let pairs = candidates * (candidates - 1)
        let pairwise = benchDocuments(seed: seed + 1, count: pairs, meanLength: 2 * passageTokens + 60, vocabSize: vocab)
        let yes = [clamp(2163)], answers = [clamp(71), clamp(272)], prefix = [0, clamp(5454)]
        _ = try model.logits(inputs: Array(pointwise.prefix(2)), decoderPrefix: [0], vocabIDs: yes)
        func seconds(_ body: () throws -> Void) rethrows -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        var student = Double.infinity, teacher = 0.0
        for _ in 0..<iterations {
            student = min(student, try seconds { _ = try model.logits(inputs: pointwise, decoderPrefix: [0], vocabIDs: yes) })
        }
        teacher = try seconds {
            for start in stride(from: 0, to: pairs, by: 64) {
                _ = try model.logits(inputs: Array(pairwise[start..<min(start + 64, pairs)]), decoderPrefix: prefix,
                                     vocabIDs: answers)
            }
        }
        print("shape=\(self.model ?? shape.rawValue) candidates=\(candidates) passage-tokens=\(passageTokens) "
              + "cores=\(CPUBudget.cores)")
        print(String(format: "student pointwise: %d prompts of ~%d tokens, %.3f s/query (best of %d)", candidates,
                     passageTokens + 40, student, iterations))
        print(String(format: "teacher PRP all pairs: %d prompts of ~%d tokens, %.2f s/query (%.1f prompts/s)", pairs,
                     2 * passageTokens + 60, teacher, Double(pairs) / teacher))
        print(String(format: "teacher/student: %.0fx", teacher / student))
    }
}

extension BenchCommand {
    /// The GEMM alone at the model's largest shape (the feed-forward input projection over one worker's pack),
    /// one per core as `.sequences` runs them: what the model's GFLOP/s compares with.
    func reportPeak(_ config: T5Config, modelGFLOPs: Double, cores: Int) {
        let ffnWidth = config.feedForward == .gatedGelu ? 2 * config.dFF : config.dFF
        let m = min(2048, (batch + cores - 1) / cores * tokens), n = ffnWidth, k = config.dModel
        let work = 2 * Double(m * n * k)
        let sgemm = GemmBenchmark.rate(m: m, n: n, k: k, repetitions: max(2, Int(2e10 / work)), concurrent: cores,
                                       blasThreads: 1)
        let int8 = GemmBenchmark.int8Rate(m: m, n: n, k: k, repetitions: max(2, Int(6e10 / work)), concurrent: cores)
        let peak = precision == .int8 ? int8.wall : sgemm.wall
        print(String(format: "peak at m=%d n=%d k=%d, %d x 1 thread: sgemm %.1f GFLOP/s, int8 GEMM %.1f GOP/s; "
                     + "this run reached %.0f%% of the %@ peak", m, n, k, cores, sgemm.wall, int8.wall,
                     100 * modelGFLOPs / peak, precision == .int8 ? "int8" : "sgemm"))
    }

    func writeScores(_ model: T5Model, documents: [[Int32]], yes: Int32, to path: String) throws {
        let vocabulary = (0..<Int32(model.config.vocabSize)).map { $0 }
        let logits = try model.logits(inputs: documents, decoderPrefix: [0], vocabIDs: vocabulary)
        let logProbs = logits.map { row in
            let largest = row.max()!
            let normaliser = Double(largest) + log(row.reduce(0.0) { $0 + exp(Double($1 - largest)) })
            return Float(Double(row[Int(yes)]) - normaliser)
        }
        let json = "{\"logit\":\(jsonArray(logits.map { $0[Int(yes)] })),\"log_prob\":\(jsonArray(logProbs))}\n"
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
    }

    func reportTraining(_ model: T5Model) throws {
        let documents = benchDocuments(seed: seed, count: batch, meanLength: tokens, vocabSize: model.config.vocabSize)
        let queries = stride(from: 0, to: batch, by: candidates).map {
            TrainingQuery(qid: "q\($0)", prompts: Array(documents[$0..<min($0 + candidates, batch)]))
        }
        var settings = TrainerSettings()
        settings.batchQueries = queries.count
        settings.steps = iterations + 1
        let trainer = Trainer(model: T5TrainingModel(copying: model), rule: .logit(piece: "▁Yes"),
                              scoreIDs: [Int32(min(2163, model.config.vocabSize - 1))], settings: settings,
                              training: queries, heldOut: [])
        var pairs = 0
        try trainer.run(report: { if case let .step(_, _, _, _, count) = $0 { pairs = count } },
                        shouldStop: { trainer.step == 1 })  // warm-up step
        let start = DispatchTime.now().uptimeNanoseconds
        try trainer.run(report: { _ in })
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(iterations)
        print("shape=\(self.model ?? shape.rawValue) documents=\(batch) per query=\(candidates) tokens~\(tokens) "
              + "blas threads=\(threads == .blas ? CPUBudget.cores : 1)")
        print(String(format: "swift train: %.2f s/step, %.1f pairs/s, %.2f docs/s, peak RSS %.0f MiB", seconds,
                     Double(pairs) / seconds, Double(batch) / seconds, peakResidentBytes() / 1_048_576))
    }
}

/// Peak resident set size of this process (getrusage), in bytes.
func peakResidentBytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) * 1024
}

/// Resident set size of this process (/proc/self/statm), in bytes.
func residentBytes() -> Double {
    guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = statm.split(separator: " ")
    return fields.count > 1 ? (Double(fields[1]) ?? 0) * Double(sysconf(Int32(_SC_PAGESIZE))) : 0
}

/// The document ids both benchmarks score: lengths uniform in [0.75, 1.25] x meanLength, ids uniform over
/// the 32097 ordinary pieces (3..<32100), each document ending in eos (1).
/// Ids in [3, min(32100, vocabSize)): the T5 vocabulary's ordinary pieces, as the PyTorch script draws them,
/// and never past a smaller model's vocabulary.
func benchDocuments(seed: UInt64, count: Int, meanLength: Int, vocabSize: Int = 32128) -> [[Int32]] {
    var generator = SplitMix64(state: seed)
    let low = meanLength * 3 / 4, high = meanLength * 5 / 4
    let span = UInt64(min(32100, vocabSize) - 3)
    return (0..<count).map { _ in
        let length = low + Int(generator.next() % UInt64(high - low + 1))
        return (0..<(length - 1)).map { _ in Int32(3 + generator.next() % span) } + [1]
    }
}

/// FLOPs (2 per multiply-add) of one pointwise score as the model computes it: the encoder, one decoder step
/// with the cross-attention's key/value projections folded into it (2 heads L d each way), one logit.
func pointwiseFLOPs(_ c: T5Config, length: Int) -> Double {
    let L = Double(length), d = Double(c.dModel), inner = Double(c.innerDim), ff = Double(c.dFF)
    let ffnWeights = c.feedForward == .gatedGelu ? 3 * d * ff : 2 * d * ff
    let encoderLayer = L * (4 * d * inner + ffnWeights) + 2 * L * L * inner
    let crossAttention = 2 * d * inner + 2 * inner * d + 2 * Double(c.numHeads) * L * d
    let decoderLayer = 4 * d * inner + crossAttention + ffnWeights + 2 * inner
    return 2 * (Double(c.numLayers) * encoderLayer + Double(c.numDecoderLayers) * decoderLayer + d)
}

/// Random weights with O(1) activations: layer norms near 1, projections ~ d_model^-1/2.
private func fillRandom(name: String, destination: UnsafeMutableBufferPointer<Float>, dModel: Int,
                        generator: inout SplitMix64) {
    let isNorm = name.contains("layer_norm")
    let scale: Float = isNorm ? 0.125 : (name == "shared.weight" ? 1 : 1 / Float(dModel).squareRoot())
    for i in destination.indices {
        let unit = Float(Int(generator.next() >> 40) - (1 << 23)) * 0x1p-23
        destination[i] = (isNorm ? 1 : 0) + unit * scale
    }
}
