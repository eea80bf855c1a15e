import Foundation
import Ranking
import Retrieval
import T5

/// One training query: the prompts of the teacher's top m documents, best first.
public struct TrainingQuery: Sendable {
    public let qid: String
    public let prompts: [[Int32]]

    public init(qid: String, prompts: [[Int32]]) {
        self.qid = qid
        self.prompts = prompts
    }
}

public struct TrainerSettings: Sendable {
    public var optimizer: OptimizerKind = .adamW(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01)
    public var learningRate = 2e-5
    public var warmupSteps = 0
    public var decay: LearningRateSchedule.Decay = .linear
    public var steps = 100
    public var batchQueries = 4
    public var accumulation = 1
    /// 0 turns clipping off.
    public var maxGradNorm = 1.0
    public var seed: UInt64 = 1
    public var evaluateEvery = 10
    /// Dropout rate while training (evaluation never drops); the masks depend on the seed and the step.
    public var dropout: Float = 0

    public init() {}

    var schedule: LearningRateSchedule {
        LearningRateSchedule(peak: learningRate, warmupSteps: warmupSteps, decay: decay, totalSteps: steps)
    }
}

/// What a step or an evaluation reports.
public enum TrainingEvent: Sendable {
    case step(step: Int, loss: Double, gradientNorm: Double, learningRate: Double, pairs: Int)
    case evaluation(step: Int, loss: Double, kendallTau: Double)
}

/// RankNet distillation of a pointwise template: each step scores `batchQueries` queries' prompts (times
/// `accumulation`), sends the RankNet gradient back through the model and applies the optimiser. The order
/// of the queries is a pure function of the seed and the step, so a resumed run sees the same batches.
public final class Trainer {
    public let model: T5TrainingModel
    public let rule: ScoreRule
    public let scoreIDs: [Int32]
    public let settings: TrainerSettings
    public let optimizer: Optimizer
    public let training: [TrainingQuery]
    public let heldOut: [TrainingQuery]
    /// Steps already taken (non-zero after a resume).
    public var step = 0

    public init(model: T5TrainingModel, rule: ScoreRule, scoreIDs: [Int32], settings: TrainerSettings,
                training: [TrainingQuery], heldOut: [TrainingQuery]) {
        precondition(!training.isEmpty, "nothing to train on")
        self.model = model
        self.rule = rule
        self.scoreIDs = scoreIDs
        self.settings = settings
        self.training = training
        self.heldOut = heldOut
        optimizer = Optimizer(kind: settings.optimizer, count: model.parameters.count)
    }

    /// Runs until `settings.steps`, calling `report` after each step and evaluation; `shouldStop` is polled
    /// between steps, `checkpoint` is called after every step (it decides whether to write one).
    public func run(report: (TrainingEvent) -> Void, checkpoint: (Trainer) throws -> Void = { _ in },
                    shouldStop: () -> Bool = { false }) throws {
        if step == 0, !heldOut.isEmpty {
            report(try evaluate())
        }
        while step < settings.steps, !shouldStop() {
            try takeStep(report: report)
            if !heldOut.isEmpty, step % settings.evaluateEvery == 0 || step == settings.steps {
                report(try evaluate())
            }
            try checkpoint(self)
        }
    }

    func takeStep(report: (TrainingEvent) -> Void) throws {
        model.zeroGradients()
        var loss = 0.0, pairs = 0
        for micro in 0..<settings.accumulation {
            let batch = queries(step: step, micro: micro)
            var mix = SplitMix64(state: settings.seed ^ UInt64(step) &* 0x2545_F491_4F6C_DD1D ^ UInt64(micro) << 48)
            let result = try lossAndBackward(batch, scale: 1 / Float(settings.accumulation), dropoutSeed: mix.next())
            loss += result.loss / Double(settings.accumulation)
            pairs += result.pairs
        }
        let norm = clipGradientNorm(model.gradients, maxNorm: settings.maxGradNorm)
        let rate = settings.schedule.rate(at: step)
        optimizer.step(parameters: model.parameters, gradients: UnsafeBufferPointer(model.gradients), lr: rate)
        step += 1
        report(.step(step: step, loss: loss, gradientNorm: norm, learningRate: rate, pairs: pairs))
    }

    /// Forward, RankNet and backward over `batch` (gradients scaled by `scale`); returns the loss.
    func lossAndBackward(_ batch: [TrainingQuery], scale: Float, dropoutSeed: UInt64 = 0) throws
        -> (loss: Double, pairs: Int)
    {
        let (pass, scores) = try score(batch, dropout: settings.dropout, seed: dropoutSeed)
        let queries = scores.map { RankNet.Query(scores: $0, teacherOrder: Array($0.indices), topM: $0.count) }
        let (loss, dScores) = RankNet.loss(queries)
        let dLogits = zip(pass.logits, dScores.flatMap { $0 }).map { logits, dScore in
            rule.rawScoreGradient(logits: logits).map { $0 * dScore * scale }
        }
        pass.backward(dLogits: dLogits)
        return (loss, queries.map { $0.topM * ($0.topM - 1) / 2 }.reduce(0, +))
    }

    private func score(_ batch: [TrainingQuery], dropout: Float = 0, seed: UInt64 = 0) throws -> (T5TrainingPass, [[Float]]) {
        let pass = try model.forward(inputs: batch.flatMap(\.prompts), vocabIDs: scoreIDs, dropoutRate: dropout,
                                     dropoutSeed: seed)
        var scores: [[Float]] = []
        var start = 0
        for query in batch {
            scores.append(pass.logits[start..<(start + query.prompts.count)].map(rule.rawScore(logits:)))
            start += query.prompts.count
        }
        return (pass, scores)
    }

    /// Held-out RankNet loss and mean Kendall tau-b between the student's scores and the teacher's order.
    public func evaluate() throws -> TrainingEvent {
        var losses = 0.0, taus = 0.0, counted = 0
        for start in stride(from: 0, to: heldOut.count, by: max(settings.batchQueries, 1)) {
            let batch = Array(heldOut[start..<min(start + settings.batchQueries, heldOut.count)])
            let (_, scores) = try score(batch)
            let queries = scores.map { RankNet.Query(scores: $0, teacherOrder: Array($0.indices), topM: $0.count) }
            losses += RankNet.loss(queries).loss * Double(batch.count)
            for s in scores {
                if let tau = kendallTauB(s.map(Double.init), s.indices.map { -Double($0) }) { taus += tau; counted += 1 }
            }
        }
        return .evaluation(step: step, loss: losses / Double(heldOut.count), kendallTau: counted > 0 ? taus / Double(counted) : 0)
    }

    /// The training queries of one micro-batch: consecutive slices of a seeded shuffle, reshuffled each epoch.
    func queries(step: Int, micro: Int) -> [TrainingQuery] {
        let per = settings.batchQueries
        let first = (step * settings.accumulation + micro) * per
        return (first..<(first + per)).map { index in
            let epoch = index / training.count
            return training[permutation(epoch: epoch)[index % training.count]]
        }
    }

    private var permutations: [Int: [Int]] = [:]
    private func permutation(epoch: Int) -> [Int] {
        if let cached = permutations[epoch] { return cached }
        var generator = SplitMix64(state: settings.seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
        var order = Array(training.indices)
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            order.swapAt(i, Int(generator.next() % UInt64(i + 1)))
        }
        permutations = [epoch: order]
        return order
    }
}
