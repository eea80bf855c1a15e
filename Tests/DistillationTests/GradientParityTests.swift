import Distillation
import Foundation
import ParityFixtures
import Ranking
import XCTest
@testable import T5

/// The manual backward pass against PyTorch autograd: RankNet on pointwise scores of small random T5s,
/// untied (FLAN-T5 layout), tied with scaling (original T5, relu) and tied gated
/// (Tests/Fixtures/gradients, made by Scripts/fixtures/make_gradient_fixtures.py with transformers 5.23).
final class GradientParityTests: XCTestCase {
    override class func setUp() {
        super.setUp()
        CPUBudget.configureBLAS(threads: 1)
    }

    struct Expected: Decodable {
        struct Query: Decodable {
            let prompts: [[Int32]]
            let teacher_order: [Int]
            let top_m: Int
        }
        let rule: [JSONScalar]
        let queries: [Query]
        let loss: Double
        let scores: [[Double]]
    }

    enum JSONScalar: Decodable {
        case text(String), number(Int32)
        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Int32.self) { self = .number(number) } else { self = .text(try container.decode(String.self)) }
        }
        var number: Int32? { if case let .number(n) = self { n } else { nil } }
    }

    static let variants = ["flan_untied", "t5_tied", "gated_tied"]

    /// The rule and the ids it reads, from the fixture's ["logit", id] or ["log_softmax", positive, negative].
    func rule(_ expected: Expected) -> (ScoreRule, [Int32]) {
        if expected.rule.count == 2 { return (.logit(piece: "p"), [expected.rule[1].number!]) }
        return (.logSoftmax(positive: "p", negative: "n"), [expected.rule[2].number!, expected.rule[1].number!])
    }

    /// One training step's loss, scores and gradients, as the trainer computes them.
    func step(_ model: T5TrainingModel, _ expected: Expected) throws -> (loss: Double, scores: [[Float]]) {
        let (rule, ids) = rule(expected)
        let prompts = expected.queries.flatMap(\.prompts)
        let pass = try model.forward(inputs: prompts, vocabIDs: ids)
        var scores: [[Float]] = []
        var start = 0
        for query in expected.queries {
            scores.append(pass.logits[start..<(start + query.prompts.count)].map(rule.rawScore(logits:)))
            start += query.prompts.count
        }
        let batch = zip(scores, expected.queries).map {
            RankNet.Query(scores: $0.0, teacherOrder: $0.1.teacher_order, topM: $0.1.top_m)
        }
        let (loss, dScores) = RankNet.loss(batch)
        let dLogits = zip(pass.logits, dScores.flatMap { $0 }).map { logits, dScore in
            rule.rawScoreGradient(logits: logits).map { $0 * dScore }
        }
        pass.backward(dLogits: dLogits)
        return (loss, scores)
    }

    func testGradientsEqualAutograd() throws {
        for variant in Self.variants {
            let directory = ParityFixtures.root.appendingPathComponent("Tests/Fixtures/gradients/\(variant)")
            let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: directory.appendingPathComponent("expected.json")))
            let model = T5TrainingModel(copying: try T5Model(directory: directory))
            let (loss, scores) = try step(model, expected)
            XCTAssertEqual(loss, expected.loss, accuracy: 1e-5, variant)
            XCTAssertEqual(ScoreComparison.mismatches(scores.flatMap { $0 }.map(Double.init), expected.scores.flatMap { $0 }), [], variant)

            let reference = try SafeTensorsFile(path: directory.appendingPathComponent("grads.safetensors").path)
            var compared = 0
            for tensor in model.tensors {
                let count = tensor.shape.reduce(1, *)
                let ours = Array(model.gradients[tensor.offset..<(tensor.offset + count)])
                guard reference.entries[tensor.name] != nil else {
                    XCTAssertEqual(ours.map(abs).max() ?? 0, 0, "\(variant) \(tensor.name): autograd has no gradient")
                    continue
                }
                var theirs = [Float](repeating: 0, count: count)
                try theirs.withUnsafeMutableBufferPointer { try reference.copy(tensor.name, into: $0.baseAddress!) }
                let scale = theirs.map(abs).max()!
                let error = zip(ours, theirs).map { abs($0 - $1) }.max()!
                XCTAssertLessThanOrEqual(error, 1e-4 * scale + 1e-7, "\(variant) \(tensor.name): max |error| \(error) of max \(scale)")
                compared += 1
            }
            XCTAssertEqual(compared, reference.entries.count, variant)
        }
    }

    /// The comparison can fail: a gradient from a wrong teacher order is rejected.
    func testAWrongTeacherOrderGivesOtherGradients() throws {
        let directory = ParityFixtures.root.appendingPathComponent("Tests/Fixtures/gradients/flan_untied")
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: directory.appendingPathComponent("expected.json")))
        let reversed = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: directory.appendingPathComponent("expected.json")))
        let model = T5TrainingModel(copying: try T5Model(directory: directory))
        let flipped = Expected(rule: reversed.rule, queries: reversed.queries.map {
            .init(prompts: $0.prompts, teacher_order: $0.teacher_order.reversed(), top_m: $0.top_m) }, loss: 0, scores: [])
        let (loss, _) = try step(model, flipped)
        XCTAssertGreaterThan(abs(loss - expected.loss), 1e-3)
    }
}
