import Foundation
import ParityFixtures
import Ranking
import XCTest
@testable import Distillation
@testable import T5

/// The trainer around the backward pass: the update rules, resumption, and that learning happens.
final class TrainerTests: XCTestCase {
    override class func setUp() {
        super.setUp()
        CPUBudget.configureBLAS(threads: 1)
    }

    static let tiny = ParityFixtures.root.appendingPathComponent("Tests/Fixtures/gradients/flan_untied")
    let rule = ScoreRule.logit(piece: "p")
    let ids: [Int32] = [7]

    /// Queries whose teacher prefers prompts with more tokens of id 5: a preference a student can learn.
    func queries(count: Int, seed: UInt64) -> [TrainingQuery] {
        var generator = SplitMix64(state: seed)
        return (0..<count).map { q in
            let prompts: [[Int32]] = (0..<4).map { _ in
                (0..<(6 + Int(generator.next() % 10))).map { _ in Int32(2 + generator.next() % 20) } + [1]
            }
            let ranked = prompts.sorted { a, b in a.filter { $0 == 5 }.count > b.filter { $0 == 5 }.count }
            return TrainingQuery(qid: "q\(q)", prompts: ranked)
        }
    }

    func trainer(_ settings: TrainerSettings, training: [TrainingQuery], heldOut: [TrainingQuery] = []) throws -> Trainer {
        Trainer(model: T5TrainingModel(copying: try T5Model(directory: Self.tiny)), rule: rule, scoreIDs: ids,
                settings: settings, training: training, heldOut: heldOut)
    }

    func testTheFirstSGDStepIsExactlyWeightsMinusLearningRateTimesGradient() throws {
        var settings = TrainerSettings()
        settings.optimizer = .sgd
        settings.learningRate = 0.05
        settings.decay = .linear
        settings.steps = 10
        settings.batchQueries = 1
        settings.maxGradNorm = 0
        let data = queries(count: 1, seed: 3)
        let trained = try trainer(settings, training: data)
        let reference = T5TrainingModel(copying: try T5Model(directory: Self.tiny))
        _ = try Trainer(model: reference, rule: rule, scoreIDs: ids, settings: settings, training: data, heldOut: [])
            .lossAndBackward(data, scale: 1)
        let before = Array(reference.parameters)
        try trained.takeStep(report: { _ in })
        let expected = zip(before, reference.gradients).map { $0 - Float(0.05) * $1 }
        XCTAssertEqual(Array(trained.model.parameters), expected)
        XCTAssertNotEqual(expected, before)
    }

    func testAdamWFirstStepMovesEachWeightByTheLearningRateAgainstItsGradientSign() throws {
        var settings = TrainerSettings()
        settings.optimizer = .adamW(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0)
        settings.learningRate = 1e-3
        settings.decay = .constant
        settings.batchQueries = 1
        settings.maxGradNorm = 0
        let data = queries(count: 1, seed: 3)
        let trained = try trainer(settings, training: data)
        let before = Array(trained.model.parameters)
        try trained.takeStep(report: { _ in })
        // Bias-corrected first step: m̂ = g, v̂ = g², so the update is lr * g / (|g| + eps).
        for (i, g) in trained.model.gradients.enumerated() where abs(g) > 1e-4 {
            XCTAssertEqual(trained.model.parameters[i], before[i] - 1e-3 * (g > 0 ? 1 : -1), accuracy: 1e-6)  // float rounding of values ~1
        }
    }

    func testTrainingLowersTheLossAndRaisesKendallTauOnHeldOutQueries() throws {
        var settings = TrainerSettings()
        settings.learningRate = 2e-3
        settings.steps = 80
        settings.batchQueries = 8
        settings.evaluateEvery = 80
        let trainer = try trainer(settings, training: queries(count: 64, seed: 5), heldOut: queries(count: 16, seed: 6))
        var evaluations: [(loss: Double, tau: Double)] = []
        try trainer.run(report: { event in
            if case let .evaluation(_, loss, tau) = event { evaluations.append((loss, tau)) }
        })
        XCTAssertEqual(evaluations.count, 2)
        let (first, last) = (evaluations[0], evaluations[1])
        XCTAssertLessThan(last.loss, first.loss - 0.03, "\(evaluations)")  // measured 0.70 -> 0.63
        XCTAssertGreaterThan(last.tau, first.tau + 0.3, "\(evaluations)")  // measured 0.02 -> 0.56
    }

    func testAResumedRunReachesTheSameWeightsAsAnUnbrokenOne() throws {
        var settings = TrainerSettings()
        settings.learningRate = 1e-3
        settings.steps = 6
        settings.batchQueries = 2
        settings.accumulation = 2
        let data = queries(count: 5, seed: 8)
        let unbroken = try trainer(settings, training: data)
        try unbroken.run(report: { _ in })

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("checkpoint-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try trainer(settings, training: data)
        try first.run(report: { _ in }, shouldStop: { first.step == 3 })
        try TrainingCheckpoint.save(first, job: "job", to: directory, modelSource: Self.tiny)
        let second = try trainer(settings, training: data)
        XCTAssertEqual(try TrainingCheckpoint.restore(second, job: "job", from: directory), 3)
        try second.run(report: { _ in })
        XCTAssertEqual(Array(second.model.parameters), Array(unbroken.model.parameters))
        XCTAssertThrowsError(try TrainingCheckpoint.restore(second, job: "another", from: directory))
    }

    func testTheSavedDirectoryLoadsAndScoresAsTheTrainedModel() throws {
        var settings = TrainerSettings()
        settings.learningRate = 1e-2
        settings.steps = 3
        let data = queries(count: 4, seed: 9)
        let trainer = try trainer(settings, training: data)
        try trainer.run(report: { _ in })
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("saved-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try trainer.model.save(to: directory, copyingFrom: Self.tiny)
        let loaded = try T5Model(directory: directory)
        let prompts = data.flatMap(\.prompts)
        let direct = try trainer.model.inferenceModel().logits(inputs: prompts, decoderPrefix: [0], vocabIDs: ids)
        XCTAssertEqual(try loaded.logits(inputs: prompts, decoderPrefix: [0], vocabIDs: ids), direct)
        let original = try T5Model(directory: Self.tiny).logits(inputs: prompts, decoderPrefix: [0], vocabIDs: ids)
        XCTAssertNotEqual(direct, original)
        // The source's config, naming the dtype the weights now have.
        var source = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.tiny.appendingPathComponent("config.json"))) as! [String: Any]
        let saved = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("config.json"))) as! [String: Any]
        let keys = ["torch_dtype", "dtype"].filter { source[$0] != nil }
        for key in keys.isEmpty ? ["torch_dtype"] : keys { source[key] = "float32" }
        XCTAssertEqual(NSDictionary(dictionary: saved), NSDictionary(dictionary: source))
    }

    func testScheduleWarmsUpThenDecaysLinearly() {
        let schedule = LearningRateSchedule(peak: 1, warmupSteps: 4, decay: .linear, totalSteps: 12)
        XCTAssertEqual((0..<12).map { schedule.rate(at: $0) }, [0.25, 0.5, 0.75, 1, 1, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125])
        XCTAssertEqual(LearningRateSchedule(peak: 2, decay: .constant, totalSteps: 5).rate(at: 4), 2)
    }

    func testClippingScalesToTheMaximumGlobalNorm() {
        var values: [Float] = [3, 4]
        values.withUnsafeMutableBufferPointer { XCTAssertEqual(clipGradientNorm($0, maxNorm: 1), 5) }
        XCTAssertEqual(values[0], 0.6, accuracy: 1e-6)
        XCTAssertEqual(values[1], 0.8, accuracy: 1e-6)
    }
}
