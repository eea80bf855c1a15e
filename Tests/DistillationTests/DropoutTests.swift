import Distillation
import Foundation
import ParityFixtures
import Ranking
import XCTest
@testable import T5

/// Training dropout: seeded masks that forward and backward agree on, checked against finite differences
/// (PyTorch's random masks cannot be reproduced, so autograd is no reference here).
final class DropoutTests: XCTestCase {
    override class func setUp() {
        super.setUp()
        CPUBudget.configureBLAS(threads: 1)
    }

    static let directory = ParityFixtures.root.appendingPathComponent("Tests/Fixtures/gradients/flan_untied")

    func prompts() throws -> [[Int32]] {
        struct Expected: Decodable {
            struct Query: Decodable { let prompts: [[Int32]] }
            let queries: [Query]
        }
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: Self.directory.appendingPathComponent("expected.json")))
        return expected.queries[0].prompts
    }

    /// RankNet over one query whose teacher order is the prompt order.
    func loss(_ model: T5TrainingModel, _ prompts: [[Int32]], rate: Float, seed: UInt64, backward: Bool = false) throws -> Double {
        let pass = try model.forward(inputs: prompts, vocabIDs: [7], dropoutRate: rate, dropoutSeed: seed)
        let scores = pass.logits.map { $0[0] }
        let (loss, dScores) = RankNet.loss([RankNet.Query(scores: scores, teacherOrder: Array(scores.indices), topM: scores.count)])
        if backward { pass.backward(dLogits: dScores[0].map { [$0] }) }
        return loss
    }

    func testMasksAreSeededAndRateZeroChangesNothing() throws {
        let model = T5TrainingModel(copying: try T5Model(directory: Self.directory))
        let prompts = try prompts()
        let plain = try model.forward(inputs: prompts, vocabIDs: [7]).logits
        XCTAssertEqual(try model.forward(inputs: prompts, vocabIDs: [7], dropoutRate: 0, dropoutSeed: 9).logits, plain)
        let a = try model.forward(inputs: prompts, vocabIDs: [7], dropoutRate: 0.3, dropoutSeed: 9).logits
        XCTAssertNotEqual(a, plain)
        XCTAssertEqual(try model.forward(inputs: prompts, vocabIDs: [7], dropoutRate: 0.3, dropoutSeed: 9).logits, a)
        XCTAssertNotEqual(try model.forward(inputs: prompts, vocabIDs: [7], dropoutRate: 0.3, dropoutSeed: 10).logits, a)

        var values = [Float](repeating: 1, count: 100_000)
        values.withUnsafeMutableBufferPointer { DropoutMasks(rate: 0.3, seed: 1).apply($0.baseAddress!, count: $0.count, site: 5) }
        let dropped = values.filter { $0 == 0 }.count
        XCTAssertEqual(Double(dropped) / 100_000, 0.3, accuracy: 0.01)
        XCTAssertTrue(values.allSatisfy { $0 == 0 || abs($0 - 1 / 0.7) < 1e-6 })
    }

    func testGradientsWithDropoutMatchFiniteDifferences() throws {
        let model = T5TrainingModel(copying: try T5Model(directory: Self.directory))
        let prompts = try prompts()
        _ = try loss(model, prompts, rate: 0.3, seed: 42, backward: true)
        let gradients = Array(model.gradients)
        // The parameters with the largest gradients, where float rounding matters least.
        let checked = gradients.indices.sorted { abs(gradients[$0]) > abs(gradients[$1]) }.prefix(24)
        var failures: [String] = []
        for index in checked {
            let original = model.parameters[index]
            let epsilon = Float(1e-2)
            model.parameters[index] = original + epsilon
            let up = try loss(model, prompts, rate: 0.3, seed: 42)
            model.parameters[index] = original - epsilon
            let down = try loss(model, prompts, rate: 0.3, seed: 42)
            model.parameters[index] = original
            let numeric = (up - down) / Double(2 * epsilon)
            let analytic = Double(gradients[index])
            if abs(numeric - analytic) > 0.05 * abs(analytic) + 1e-4 {
                failures.append("parameter \(index): analytic \(analytic), numeric \(numeric)")
            }
        }
        XCTAssertEqual(failures, [])
    }
}
