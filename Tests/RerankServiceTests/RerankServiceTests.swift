import Dispatch
import Foundation
import Logging
import ParityFixtures
import Ranking
import T5
import Synchronization
import XCTest
@testable import RerankService

final class RerankServiceTests: XCTestCase {
    /// As the executables do at start: one sequence per worker, single-threaded BLAS (the invariance
    /// bounds hold for that setting).
    override class func setUp() {
        super.setUp()
        CPUBudget.configureBLAS(threads: 1)
    }

    static let randomModel = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Tests/Fixtures/ranking/random_v4").path
    static let model = Result { try ModelLoader.load(directory: randomModel, template: .monoT5, maxInputTokens: 512) }

    func makeService(_ configure: (inout ServiceConfiguration) -> Void = { _ in }) throws -> RerankService {
        var configuration = ServiceConfiguration()
        configure(&configuration)
        let service = RerankService(model: try Self.model.get(), configuration: configuration,
                                    logger: Logger(label: "test"))
        addTeardownBlock { service.drain() }
        return service
    }

    /// Submits and waits for the outcome.
    static func rerank(_ service: RerankService, _ input: RerankInput) throws -> Result<RerankOutput, RerankError> {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<RerankOutput, RerankError>!  // written before done.signal()
        try service.submit(input) { outcome = $0; done.signal() }
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        return outcome
    }

    let documents = (0..<40).map { "document \($0) " + String(repeating: "about rainbows and light ", count: $0 % 7) }

    /// Concurrent requests of different sizes, batched together in several ways: the fixture queries keep
    /// transformers' scores (Tests/Fixtures/ranking) and the others their scores alone, to float rounding.
    func testScoresDoNotDependOnBatchComposition() throws {
        let scorer = try Self.model.get().scorer
        let randomModel = try XCTUnwrap(ParityFixtures.checkpoints().first { $0.directory.path.hasSuffix("Tests/Fixtures/ranking/random_v4") })
        let examples = randomModel.examples.filter { $0.template == "monot5" }
        XCTAssertEqual(examples.count, 3)
        let alone = try documents.map { try scorer.rawScores(query: "rainbows", documents: [$0])[0] }
        XCTAssertGreaterThan(Set(alone).count, 30, "the random test model should tell these documents apart")
        let inputs = (0..<4).map { RerankInput(query: "rainbows", documents: Array(documents[($0 * 10)..<($0 * 10 + 10)])) }
            + examples.map { RerankInput(query: $0.query, documents: $0.documents) }
        for (tokens, pairs) in [(1, 1), (200, 3), (8192, 64)] {
            let service = try makeService { $0.maxBatchTokens = tokens; $0.maxBatchPairs = pairs }
            nonisolated(unsafe) var outputs = [Result<RerankOutput, RerankError>?](repeating: nil, count: inputs.count)
            let lock = NSLock()
            DispatchQueue.concurrentPerform(iterations: inputs.count) { part in
                let output = try? Self.rerank(service, inputs[part])
                lock.lock(); outputs[part] = output; lock.unlock()
            }
            let scores = try outputs.map { try XCTUnwrap($0).get().rawScores }
            for (score, reference) in zip(scores[..<4].joined(), alone) {
                XCTAssertEqual(score, reference, accuracy: 1e-5, "max-batch-tokens \(tokens)")
            }
            for (output, expected) in zip(scores[4...], examples) {
                XCTAssertEqual(ScoreComparison.mismatches(output.map(Double.init), expected.scores), [],
                               "max-batch-tokens \(tokens), \(expected.query)")
            }
        }
    }

    func testOutputCarriesProbabilitiesAndTimings() throws {
        let service = try makeService()
        let output = try Self.rerank(service, RerankInput(query: "rainbows", documents: ["light", "rain"])).get()
        XCTAssertEqual(output.probabilities, output.rawScores.map { exp($0) })
        XCTAssertEqual(output.truncatedDocuments, 0)
        XCTAssertGreaterThan(output.promptTokens, 10)
        XCTAssertEqual(output.template, "monot5")
        XCTAssertGreaterThan(output.inferenceSeconds, 0)
    }

    func testRequestsAreValidatedBeforeTheyCostAnything() throws {
        let service = try makeService { $0.maxDocuments = 3 }
        XCTAssertThrowsError(try service.submit(RerankInput(query: "  ", documents: ["a"])) { _ in }) {
            XCTAssertEqual($0 as? RerankError, .empty("query must not be empty"))
        }
        XCTAssertThrowsError(try service.submit(RerankInput(query: "q", documents: [])) { _ in })
        XCTAssertThrowsError(try service.submit(RerankInput(query: "q", documents: ["a", "b", "c", "d"])) { _ in }) {
            XCTAssertEqual($0 as? RerankError, .validation("4 documents is over the limit of 3"))
        }
    }

    func testTruncationIsCountedOrRefused() throws {
        let service = try makeService { $0.maxInputTokens = 64 }
        let long = String(repeating: "many many words ", count: 100)
        let output = try Self.rerank(service, RerankInput(query: "q", documents: ["short", long, long])).get()
        XCTAssertEqual(output.truncatedDocuments, 2)
        XCTAssertEqual(output.truncatedBy, [.inputTokens: 2])
        let refused = try Self.rerank(service, RerankInput(query: "q", documents: ["short", long], truncate: false))
        guard case let .failure(.validation(message)) = refused else { return XCTFail("\(refused)") }
        XCTAssertTrue(message.hasPrefix("document 1 is too long"), message)
    }

    func testExpiredRequestsAreDroppedNotScored() throws {
        let service = try makeService { $0.requestTimeout = 1e-9 }
        let outcome = try Self.rerank(service, RerankInput(query: "q", documents: documents))
        XCTAssertEqual(outcome.map(\.rawScores.count), .failure(.timedOut))
    }

    func testCancelledRequestIsDropped() throws {
        let service = try makeService()
        // Occupy the core with a big request, then cancel one queued behind it.
        let busy = DispatchSemaphore(value: 0)
        try service.submit(RerankInput(query: "q", documents: Array(repeating: documents[39], count: 400))) { _ in
            busy.signal()
        }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<RerankOutput, RerankError>?
        let ticket = try service.submit(RerankInput(query: "q", documents: documents)) { outcome = $0; done.signal() }
        ticket.cancel()
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(outcome.map { $0.map(\.rawScores.count) }, .failure(.cancelled))
        XCTAssertEqual(busy.wait(timeout: .now() + 120), .success)
    }

    /// Requests waiting to be tokenized count at admission: a burst of large requests meets 429 at once.
    func testAdmissionCountsRequestsNotYetTokenized() throws {
        let service = try makeService { $0.maxQueuedTokens = 2000; $0.tokenizerThreads = 1 }
        let large = Array(repeating: String(repeating: "many words about rainbows ", count: 40), count: 50)
        var admitted = 0, refused = 0
        let finished = DispatchGroup()
        for _ in 0..<20 {
            do {
                finished.enter()
                try service.submit(RerankInput(query: "q", documents: large)) { _ in finished.leave() }
                admitted += 1
            } catch RerankError.overloaded {
                finished.leave()
                refused += 1
            }
        }
        // One request's estimate (50 x ~512 tokens) is over the limit on its own, so only the first gets in.
        XCTAssertEqual(admitted, 1)
        XCTAssertEqual(refused, 19)
        XCTAssertEqual(finished.wait(timeout: .now() + 300), .success)
    }

    /// Submissions racing a drain either are refused or complete; none is left waiting.
    func testSubmitRacingDrainNeverHangs() throws {
        for _ in 0..<5 {
            let service = try makeService()
            let outcomes = DispatchGroup(), submitting = DispatchGroup()
            DispatchQueue.global().async(group: submitting) {
                DispatchQueue.concurrentPerform(iterations: 40) { _ in
                    outcomes.enter()
                    do {
                        try service.submit(RerankInput(query: "q", documents: ["a", "b"])) { _ in outcomes.leave() }
                    } catch {
                        outcomes.leave()
                    }
                }
            }
            usleep(200)
            service.drain()
            XCTAssertEqual(submitting.wait(timeout: .now() + 60), .success)
            XCTAssertEqual(outcomes.wait(timeout: .now() + 60), .success, "a submission was left hanging")
        }
    }

    func testFullQueueRefusesWholeRequests() throws {
        let service = try makeService { $0.maxQueuedTokens = 1; $0.maxBatchPairs = 8 }
        let finished = DispatchSemaphore(value: 0)
        try service.submit(RerankInput(query: "q", documents: Array(repeating: documents[39], count: 300))) { _ in
            finished.signal()
        }
        let start = Date()
        while service.queueDepth.tokens <= 1, Date().timeIntervalSince(start) < 30 { usleep(1000) }
        XCTAssertThrowsError(try service.submit(RerankInput(query: "q", documents: ["a"])) { _ in }) {
            guard case .overloaded(let seconds) = $0 as? RerankError else { return XCTFail("\($0)") }
            XCTAssertGreaterThanOrEqual(seconds, 1)
        }
        XCTAssertEqual(finished.wait(timeout: .now() + 120), .success)
    }

    func testHotSwapUnderLoadDropsNothingAndBadModelKeepsServing() throws {
        let service = try makeService()
        let clients = 4, requestsPerClient = 15
        let documents = self.documents
        nonisolated(unsafe) var failures = [Int](repeating: 0, count: clients)
        let lock = NSLock()
        let group = DispatchGroup()
        for client in 0..<clients {
            DispatchQueue.global().async(group: group) {
                for _ in 0..<requestsPerClient {
                    let result = try? Self.rerank(service, RerankInput(query: "rainbows", documents: documents))
                    if case .success = result {} else { lock.lock(); failures[client] += 1; lock.unlock() }
                }
            }
        }
        nonisolated(unsafe) var swaps = 0
        for _ in 0..<3 {
            let done = DispatchSemaphore(value: 0)
            service.reload { if case .success = $0 { swaps += 1 }; done.signal() }
            XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        }
        let bad = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var badOutcome: Result<ActiveModel, Error>?
        service.reload(directory: "/nonexistent/model") { badOutcome = $0; bad.signal() }
        XCTAssertEqual(bad.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(group.wait(timeout: .now() + 300), .success)
        XCTAssertEqual(swaps, 3)
        XCTAssertEqual(failures, [Int](repeating: 0, count: clients))
        guard case .failure(let error)? = badOutcome else { return XCTFail("bad model was accepted") }
        XCTAssertTrue("\(error)".contains("/nonexistent/model"), "\(error)")
        XCTAssertEqual(service.model?.directory, URL(fileURLWithPath: Self.randomModel).standardizedFileURL.path)
    }

    /// Swapping under load to a model that scores differently: a request queued before the swap finishes
    /// on the model that tokenized it, every response is wholly one model's, and requests after the swap
    /// see the new model.
    func testHotSwapToADifferentModelKeepsEachRequestOnOneModel() throws {
        let service = try makeService()
        let other = ParityFixtures.root.appendingPathComponent("Tests/Fixtures/ranking/random_v5_fresh").path
        let old = try Self.model.get().scorer
        let new = try ModelLoader.load(directory: other, template: .monoT5, maxInputTokens: 512).scorer
        let probe = Array(documents.prefix(5))
        let oldScores = try old.rawScores(query: "rainbows", documents: probe)
        let newScores = try new.rawScores(query: "rainbows", documents: probe)
        XCTAssertTrue(zip(oldScores, newScores).allSatisfy { abs($0 - $1) > 1e-3 }, "the two models must score apart")
        @Sendable func matches(_ scores: [Float], _ reference: [Float]) -> Bool {
            zip(scores, reference).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) }
        }

        // A large request queued on the old model, so the swap lands while its pairs wait.
        let big = Array(repeating: probe, count: 60).flatMap { $0 }
        let bigDone = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var bigOutcome: Result<RerankOutput, RerankError>?
        try service.submit(RerankInput(query: "rainbows", documents: big)) { bigOutcome = $0; bigDone.signal() }
        let start = Date()
        while service.queueDepth.pairs == 0, bigOutcome == nil, Date().timeIntervalSince(start) < 30 { usleep(500) }

        let clients = 3
        nonisolated(unsafe) var mixed = 0, sawOld = 0, sawNew = 0
        let lock = NSLock()
        let group = DispatchGroup()
        for _ in 0..<clients {
            DispatchQueue.global().async(group: group) {
                for _ in 0..<8 {
                    guard let output = try? Self.rerank(service, RerankInput(query: "rainbows", documents: probe)).get() else {
                        lock.lock(); mixed += 1; lock.unlock(); continue
                    }
                    lock.lock()
                    if matches(output.rawScores, oldScores) { sawOld += 1 }
                    else if matches(output.rawScores, newScores) { sawNew += 1 }
                    else { mixed += 1 }
                    lock.unlock()
                }
            }
        }
        let swapped = DispatchSemaphore(value: 0)
        service.reload(directory: other) { if case .success = $0 { swapped.signal() } }
        XCTAssertEqual(swapped.wait(timeout: .now() + 60), .success)
        let after = try Self.rerank(service, RerankInput(query: "rainbows", documents: probe)).get()
        XCTAssertTrue(matches(after.rawScores, newScores), "\(after.rawScores) vs \(newScores)")

        XCTAssertEqual(group.wait(timeout: .now() + 300), .success)
        XCTAssertEqual(bigDone.wait(timeout: .now() + 300), .success)
        let bigScores = try XCTUnwrap(bigOutcome).get().rawScores
        XCTAssertTrue(matches(bigScores, Array(repeating: oldScores, count: 60).flatMap { $0 }),
                      "the request queued before the swap must finish on the old model")
        XCTAssertEqual(mixed, 0, "every response is wholly one model's")
        XCTAssertEqual(sawOld + sawNew, clients * 8)
    }

    func testDrainedServiceRefusesNewRequests() throws {
        let service = try makeService()
        service.drain()
        XCTAssertThrowsError(try service.submit(RerankInput(query: "q", documents: ["a"])) { _ in }) {
            XCTAssertEqual($0 as? RerankError, .unavailable("the server is shutting down"))
        }
    }
}

/// A server on a model store nothing was published to yet starts without a model (it exited before).
final class NoModelYetTests: XCTestCase {
    func reload(_ service: RerankService, _ directory: String?) -> Result<ActiveModel, Error> {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<ActiveModel, Error>!  // written before done.signal()
        service.reload(directory: directory) { outcome = $0; done.signal() }
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        return outcome
    }

    /// It refuses requests as unavailable with the message it was given, has nothing to reload by itself, serves
    /// once a model loads, and loads every model with the template and precision it was started with.
    func testRequestsAreRefusedUntilTheFirstModelLoads() throws {
        let service = RerankService(model: nil, template: .monoT5, precision: .int8, configuration: ServiceConfiguration(),
                                    logger: Logger(label: "test"), noModelMessage: "nothing published in /store yet")
        addTeardownBlock { service.drain() }
        XCTAssertEqual(service.state, .noModel)
        XCTAssertFalse(service.isAccepting)
        XCTAssertNil(service.model)
        XCTAssertThrowsError(try service.submit(RerankInput(query: "q", documents: ["d"])) { _ in }) { error in
            XCTAssertEqual(error as? RerankError, .unavailable("nothing published in /store yet"))
        }
        guard case let .failure(error) = reload(service, nil) else { return XCTFail("reloaded nothing") }
        XCTAssertTrue("\(error)".contains("nothing published in /store yet"), "\(error)")
        XCTAssertEqual(service.state, .noModel)

        guard case .failure = reload(service, "/nonexistent/model") else { return XCTFail("loaded a missing model") }
        XCTAssertEqual(service.state, .noModel)
        XCTAssertEqual(service.lastReloadFailure?.directory, "/nonexistent/model")
        // Once something was tried and failed, the refusal says so instead of "nothing published".
        XCTAssertThrowsError(try service.submit(RerankInput(query: "q", documents: ["d"])) { _ in }) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/model"), "\(error)")
            XCTAssertFalse("\(error)".contains("nothing published"), "\(error)")
        }

        guard case let .success(model) = reload(service, RerankServiceTests.randomModel) else { return XCTFail("no load") }
        XCTAssertEqual(service.state, .serving)
        XCTAssertTrue(service.model === model)
        XCTAssertEqual(model.scorer.template.name, "monot5")
        XCTAssertEqual(model.scorer.model.precision, .int8)
        guard case let .success(output) = try RerankServiceTests.rerank(service, RerankInput(query: "q", documents: ["a", "b"]))
        else { return XCTFail("not scored") }
        XCTAssertEqual(output.rawScores.count, 2)
        XCTAssertEqual(output.model, URL(fileURLWithPath: RerankServiceTests.randomModel).lastPathComponent)
    }
}

/// A reload that never finishes (a read blocked on a stalled volume) must not wedge every reload after it.
final class ReloadDeadlineTests: XCTestCase {
    func testAReloadPastItsDeadlineIsReportedAndTheNextOneRuns() throws {
        var configuration = ServiceConfiguration()
        configuration.reloadTimeout = 0.5
        let service = RerankService(model: try RerankServiceTests.model.get(), configuration: configuration,
                                    logger: Logger(label: "test"))
        addTeardownBlock { service.drain() }
        let never = DispatchSemaphore(value: 0)
        addTeardownBlock { never.signal() }
        let realLoad = service.loadModel
        service.loadModel = { directory, template, tokens, precision in
            if directory.hasSuffix("/stalled") { never.wait() }
            return try realLoad(directory, template, tokens, precision)
        }
        let results = Mutex<[Result<ActiveModel, Error>]>([])
        let done = DispatchSemaphore(value: 0)
        service.reload(directory: "/stalled") { result in results.withLock { $0.append(result) }; done.signal() }
        service.reload(directory: RerankServiceTests.randomModel) { result in
            results.withLock { $0.append(result) }; done.signal()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        let failure = try XCTUnwrap(service.lastReloadFailure)
        XCTAssertEqual(failure.directory, "/stalled")
        XCTAssertTrue(failure.message.contains("did not finish within 0.5 s"), failure.message)
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        XCTAssertNil(service.lastReloadFailure)
        XCTAssertEqual(results.withLock { $0.map { (try? $0.get()) != nil } }, [false, true])
    }
}
