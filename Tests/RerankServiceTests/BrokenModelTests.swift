import Dispatch
import Foundation
import Logging
import Ranking
import SentencePiece
import T5
import XCTest
@testable import RerankService

/// A model that yields NaN for some inputs (weights built in memory, past the load-time checks) fails
/// those requests with a backend error; the service keeps running and serves the others.
final class BrokenModelTests: XCTestCase {
    func testNonFiniteScoresFailTheRequestNotTheProcess() throws {
        let randomModel = URL(fileURLWithPath: RerankServiceTests.randomModel)
        let tokenizer = try SentencePieceTokenizer(directory: randomModel)
        let config = T5Config(vocabSize: 1024, dModel: 8, dKV: 4, dFF: 16, numHeads: 2, numLayers: 1)
        let poisoned = try XCTUnwrap(tokenizer.id(ofPiece: "▁also"), "the random test vocabulary lacks ▁also")
        let model = try T5Model(config: config) { name, _, destination in
            for i in destination.indices { destination[i] = Float((i * 7919) % 13) / 13 - 0.5 }
            // One embedding row is NaN: only prompts containing that token score NaN.
            if name == "shared.weight" {
                for i in 0..<8 { destination[Int(poisoned) * 8 + i] = .nan }
            }
        }
        let scorer = try PointwiseScorer(model: model, tokenizer: tokenizer, template: .monoT5)
        let active = ActiveModel(scorer: scorer, directory: randomModel.path, weightsSHA256: "", loadedAt: Date(), loadSeconds: 0)
        let service = RerankService(model: active, configuration: ServiceConfiguration(), logger: Logger(label: "test"))
        defer { service.drain() }

        func rerank(_ documents: [String]) throws -> Result<RerankOutput, RerankError> {
            let done = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var outcome: Result<RerankOutput, RerankError>!
            try service.submit(RerankInput(query: "q", documents: documents)) { outcome = $0; done.signal() }
            XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
            return outcome
        }
        let broken = try rerank(["fine", "also"])
        guard case let .failure(.backend(message)) = broken else { return XCTFail("\(broken)") }
        XCTAssertTrue(message.contains("non-finite score"), message)
        XCTAssertTrue(message.contains("document 1"), message)
        let fine = try rerank(["fine", "good"]).get()
        XCTAssertTrue(fine.rawScores.allSatisfy(\.isFinite))
    }
}
