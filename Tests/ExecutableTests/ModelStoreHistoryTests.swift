import Foundation
import ParityFixtures
import XCTest

/// What a model store remembers (issue 19, "A rollback does not stick"): a rolled-back version is held, so a rerun
/// of the pipeline does not publish it again; plain rollbacks walk back in publish order; publishing what is current
/// changes nothing; `store list` / `store status` show it all; a failed --notify after a flip says the flip happened;
/// stores whose history older publishers wrote are read the same way.
final class ModelStoreHistoryTests: XCTestCase {
    var root: URL!
    var store: String { root.appendingPathComponent("store").path }

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("store-history-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    static let fixtures = ParityFixtures.root.appendingPathComponent("Tests/Fixtures/ranking")
    /// Three checkpoints that are three versions.
    let models = ["random_v4", "random_v5_fresh", "random_v5_resaved"].map { fixtures.appendingPathComponent($0).resolvingSymlinksInPath().path }

    @discardableResult
    func admin(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let result = try Admin.run(arguments)
        return (result.status, result.stdout.trimmingCharacters(in: .whitespacesAndNewlines), result.stderr)
    }

    func publish(_ directory: String, _ extra: [String] = []) throws -> (status: Int32, stdout: String, stderr: String) {
        try admin(["publish", directory, "--store", store] + extra)
    }

    /// Publishes each of `models` in order; their version ids.
    func publishAll(_ models: [String]) throws -> [String] {
        try models.map { model in
            let result = try publish(model)
            XCTAssertEqual(result.status, 0, result.stderr)
            return result.stdout
        }
    }

    func current() -> String? {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: store + "/current")).map { String($0.dropFirst("versions/".count)) }
    }

    func history() -> String { (try? String(contentsOfFile: store + "/history", encoding: .utf8)) ?? "" }

    func assertNoUsage(_ result: (status: Int32, stdout: String, stderr: String), file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(result.stderr.contains("Usage:"), result.stderr, file: file, line: line)
        XCTAssertFalse(result.stderr.contains("--help"), result.stderr, file: file, line: line)
    }

    // MARK: Rollback sticks

    /// The bug: after a rollback, publishing the rolled-back checkpoint again (a Job retry, the same week's cron)
    /// made it current again without a word. Now it is held: refused with exit 3 until --force or `store unhold`.
    func testARolledBackVersionIsNotPublishedAgain() throws {
        let ids = try publishAll(Array(models.prefix(2)))
        let back = try admin(["rollback", "--store", store])
        XCTAssertEqual(back.status, 0, back.stderr)
        XCTAssertEqual(back.stdout, ids[0])
        XCTAssertTrue(back.stderr.contains("\(ids[1]) is held"), back.stderr)
        let historyBefore = history()

        let refused = try publish(models[1])
        XCTAssertEqual(refused.status, 3, refused.stderr)
        XCTAssertEqual(refused.stdout, "")
        for fragment in ["not publishing \(models[1])", "version \(ids[1])", "rolled back", store, "--force",
                         "rerank-admin store unhold \(ids[1]) --store \(store)"] {
            XCTAssertTrue(refused.stderr.contains(fragment), "\(fragment): \(refused.stderr)")
        }
        assertNoUsage(refused)
        XCTAssertEqual(current(), ids[0])
        XCTAssertEqual(history(), historyBefore)

        // --force is the operator saying so.
        let forced = try publish(models[1], ["--force"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertEqual(forced.stdout, ids[1])
        XCTAssertEqual(current(), ids[1])

        // So is `store unhold`; after it a plain publish goes through.
        XCTAssertEqual(try admin(["rollback", "--store", store]).stdout, ids[0])
        XCTAssertEqual(try publish(models[1]).status, 3)
        let released = try admin(["store", "unhold", ids[1], "--store", store])
        XCTAssertEqual(released.status, 0, released.stderr)
        XCTAssertTrue(released.stderr.contains(ids[1]), released.stderr)
        let again = try publish(models[1])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(current(), ids[1])

        // Unholding what is not held says so; a version that does not exist is an error naming it and the store.
        let notHeld = try admin(["store", "unhold", ids[0], "--store", store])
        XCTAssertEqual(notHeld.status, 0, notHeld.stderr)
        XCTAssertTrue(notHeld.stderr.contains("is not held"), notHeld.stderr)
        let unknown = try admin(["store", "unhold", "0123456789abcdef", "--store", store])
        XCTAssertEqual(unknown.status, 1, unknown.stderr)
        XCTAssertTrue(unknown.stderr.contains("no version \"0123456789abcdef\" in model store \(store)"), unknown.stderr)
        assertNoUsage(unknown)
    }

    /// `rollback --to` a rolled-back version is the operator choosing it: it is served and no longer held.
    func testRollbackToAHeldVersionReleasesIt() throws {
        let ids = try publishAll(Array(models.prefix(2)))
        XCTAssertEqual(try admin(["rollback", "--store", store]).stdout, ids[0])
        let forward = try admin(["rollback", "--store", store, "--to", ids[1]])
        XCTAssertEqual(forward.status, 0, forward.stderr)
        XCTAssertEqual(current(), ids[1])
        // Going forward again holds nothing: the version left was published before the one now served.
        let status = try admin(["store", "status", "--store", store, "--json"])
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any], status.stderr)
        XCTAssertEqual((object["held"] as? [Any])?.count, 0, status.stdout)
        XCTAssertEqual(try publish(models[0]).status, 0)
    }

    /// Two plain rollbacks in a row go two versions back (they used to flip between the last two), skipping what
    /// was rolled back; at the oldest, rollback says there is nothing earlier.
    func testPlainRollbacksWalkBackInPublishOrder() throws {
        let ids = try publishAll(models)
        XCTAssertEqual(try admin(["rollback", "--store", store]).stdout, ids[1])
        XCTAssertEqual(current(), ids[1])
        let second = try admin(["rollback", "--store", store])
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertEqual(second.stdout, ids[0], second.stderr)
        XCTAssertEqual(current(), ids[0])
        let none = try admin(["rollback", "--store", store])
        XCTAssertEqual(none.status, 1, none.stderr)
        for fragment in ["model store \(store)", "before \(ids[0])", "--to"] {
            XCTAssertTrue(none.stderr.contains(fragment), "\(fragment): \(none.stderr)")
        }
        assertNoUsage(none)
        XCTAssertEqual(current(), ids[0])

        // Forward to the newest with --to (which releases it), then a plain rollback: past the held one.
        let forward = try admin(["rollback", "--store", store, "--to", ids[2]])
        XCTAssertEqual(forward.status, 0, forward.stderr)
        XCTAssertEqual(try admin(["rollback", "--store", store]).stdout, ids[0], "ids[1] is held, so back to ids[0]")
    }

    /// Publishing the version that is current already copies, checks and flips nothing, writes no history line,
    /// and says so (exit 0, the id on standard output as always).
    func testPublishingTheCurrentVersionIsANoOp() throws {
        let id = try publishAll([models[0]])[0]
        let historyBefore = history()
        let again = try publish(models[0])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(again.stdout, id)
        XCTAssertTrue(again.stderr.contains("versions/\(id) is already current in \(store)"), again.stderr)
        XCTAssertEqual(history(), historyBefore)
        XCTAssertEqual(history().split(separator: "\n").count, 1)
    }

    // MARK: store list, store status

    func testStoreListAndStatus() throws {
        let ids = try publishAll(models)
        XCTAssertEqual(try admin(["rollback", "--store", store]).stdout, ids[1])

        let list = try admin(["store", "list", "--store", store])
        XCTAssertEqual(list.status, 0, list.stderr)
        let lines = list.stdout.split(separator: "\n").map(String.init)
        // A header and one line per version, newest first.
        guard lines.count == 4 else { return XCTFail("expected 4 lines: \(list.stdout)\n\(list.stderr)") }
        XCTAssertTrue(lines[1].contains(ids[2]) && lines[1].contains("held"), list.stdout)
        XCTAssertTrue(lines[2].contains(ids[1]) && lines[2].contains("current"), list.stdout)
        XCTAssertTrue(lines[3].contains(ids[0]), list.stdout)
        XCTAssertTrue(list.stdout.contains("MiB") || list.stdout.contains("KiB") || list.stdout.contains("bytes"), list.stdout)

        let json = try admin(["store", "list", "--store", store, "--json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], json.stdout)
        XCTAssertEqual(object["current"] as? String, ids[1])
        let versions = try XCTUnwrap(object["versions"] as? [[String: Any]])
        XCTAssertEqual(versions.map { $0["version"] as? String }, [ids[2], ids[1], ids[0]])
        XCTAssertEqual(versions.map { $0["current"] as? Bool }, [false, true, false])
        XCTAssertEqual(versions.map { $0["held"] as? Bool }, [true, false, false])
        let sizes = versions.compactMap { $0["bytes"] as? Int }
        XCTAssertEqual(sizes.count, 3)
        XCTAssertTrue(sizes.allSatisfy { $0 > 100_000 }, "\(sizes)")
        XCTAssertNotNil(versions[0]["published_at"] as? String)
        XCTAssertNotNil(versions[0]["rolled_back_at"] as? String)
        XCTAssertTrue(versions[2]["rolled_back_at"] is NSNull, "\(versions[2])")
        XCTAssertEqual(versions[0]["published_from"] as? String, models[2])

        let status = try admin(["store", "status", "--store", store])
        XCTAssertEqual(status.status, 0, status.stderr)
        for fragment in ["current: \(ids[1])", "rollback", "held: \(ids[2])", "last rollback:"] {
            XCTAssertTrue(status.stdout.contains(fragment), "\(fragment): \(status.stdout)")
        }
        let statusJSON = try admin(["store", "status", "--store", store, "--json"])
        let state = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(statusJSON.stdout.utf8)) as? [String: Any], statusJSON.stdout)
        let currentState = try XCTUnwrap(state["current"] as? [String: Any])
        XCTAssertEqual(currentState["version"] as? String, ids[1])
        XCTAssertEqual(currentState["action"] as? String, "rollback")
        XCTAssertNotNil(currentState["since"] as? String)
        let lastRollback = try XCTUnwrap(state["last_rollback"] as? [String: Any])
        XCTAssertEqual(lastRollback["from"] as? String, ids[2])
        XCTAssertEqual(lastRollback["to"] as? String, ids[1])
        XCTAssertEqual((state["held"] as? [[String: Any]])?.map { $0["version"] as? String }, [ids[2]])

        // A store that does not exist is an error naming it; an empty one says it is empty.
        let missing = try admin(["store", "list", "--store", root.appendingPathComponent("nowhere").path])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains(root.appendingPathComponent("nowhere").path), missing.stderr)
        assertNoUsage(missing)
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("nowhere").path), "list creates nothing")
    }

    // MARK: --notify after the flip

    /// A --notify that fails after the flip used to read as a failed publish (usage text, exit 64): the store did
    /// change. Now it says the publish succeeded, names the URL and the reason, and exits 4, with no usage text.
    func testANotifyThatFailsAfterTheFlipSaysThePublishSucceeded() throws {
        let first = try publishAll([models[0]])[0]
        let url = "http://127.0.0.1:1"
        let published = try publish(models[1], ["--notify", url, "--admin-token", "secret"])
        XCTAssertEqual(published.status, 4, published.stderr)
        assertNoUsage(published)
        let id = published.stdout
        XCTAssertEqual(current(), id)
        XCTAssertNotEqual(id, first)
        for fragment in ["published \(id)", "\(url)/admin/reload", "not notified", "current"] {
            XCTAssertTrue(published.stderr.contains(fragment), "\(fragment): \(published.stderr)")
        }

        let rolled = try admin(["rollback", "--store", store, "--notify", url, "--admin-token", "secret"])
        XCTAssertEqual(rolled.status, 4, rolled.stderr)
        assertNoUsage(rolled)
        XCTAssertEqual(current(), first)
        XCTAssertTrue(rolled.stderr.contains("rolled back to \(first)"), rolled.stderr)

        // A --notify that is no URL is a wrong command line (64), refused before anything changes, without usage text.
        let bad = try publish(models[2], ["--notify", "not a url", "--admin-token", "secret"])
        XCTAssertEqual(bad.status, 64, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("--notify"), bad.stderr)
        assertNoUsage(bad)
        XCTAssertEqual(current(), first)
    }

    // MARK: Stores written before

    /// A history as the publishers before this change wrote it (id, time, action; no previous version): its
    /// rollbacks hold what they rolled back, so the store behaves as if this code had written it.
    func testAHistoryOlderPublishersWroteIsReadTheSameWay() throws {
        let ids = try publishAll(models)
        let old = """
            \(ids[0])\t2025-01-05T03:00:00Z\tpublish \(models[0])
            \(ids[1])\t2025-01-12T03:00:00Z\tpublish \(models[1])
            \(ids[2])\t2025-01-19T03:00:00Z\tpublish \(models[2])
            \(ids[1])\t2025-01-19T09:00:00Z\trollback

            """
        try Data(old.utf8).write(to: URL(fileURLWithPath: store + "/history"))
        unlink(store + "/current")
        symlink("versions/\(ids[1])", store + "/current")

        let refused = try publish(models[2])
        XCTAssertEqual(refused.status, 3, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("rolled back"), refused.stderr)
        XCTAssertEqual(current(), ids[1])

        let status = try admin(["store", "status", "--store", store, "--json"])
        let state = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any], status.stderr)
        XCTAssertEqual((state["current"] as? [String: Any])?["since"] as? String, "2025-01-19T09:00:00Z")
        XCTAssertEqual((state["held"] as? [[String: Any]])?.first?["rolled_back_at"] as? String, "2025-01-19T09:00:00Z")

        XCTAssertEqual(try admin(["rollback", "--store", store]).stdout, ids[0])
        // The old lines are kept as they were; new lines add a fourth field older readers ignore.
        XCTAssertTrue(history().hasPrefix(old), history())
        let last = try XCTUnwrap(history().split(separator: "\n").last).split(separator: "\t", omittingEmptySubsequences: false)
        XCTAssertEqual(last.first.map(String.init), ids[0])
        XCTAssertEqual(last.count, 4, "\(last)")
    }

    // MARK: The pipeline

    /// A pipeline run publishes its student; the operator rolls it back; the same run again (a Job retry, a second
    /// cron run the same week) ends with exit 3 and says why, and the rollback stays.
    func testARerunPipelineDoesNotUndoARollback() throws {
        try Admin.writeSmallCorpus(in: root, seed: 19)
        let base = try publishAll([models[0]])[0]
        let arguments = ["pipeline", "--work-dir", root.appendingPathComponent("work").path, "--store", store,
                         "--corpus", root.appendingPathComponent("corpus.jsonl").path,
                         "--queries", root.appendingPathComponent("queries.tsv").path,
                         "--teacher-model", TeacherExample.model.path, "--top-k", "4", "--top-m", "4", "--steps", "2",
                         "--lr", "1e-3", "--holdout", "0.3", "--max-regression", "2"]
        let first = try admin(arguments)
        XCTAssertEqual(first.status, 0, first.stderr)
        let student = try XCTUnwrap(current())
        XCTAssertNotEqual(student, base)

        // The rerun before any rollback: the student is current already, nothing changes, exit 0.
        let same = try admin(arguments)
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertTrue(same.stderr.contains("already current"), same.stderr)

        XCTAssertEqual(try admin(["rollback", "--store", store]).stdout, base)
        let rerun = try admin(arguments)
        XCTAssertEqual(rerun.status, 3, rerun.stderr)
        XCTAssertTrue(rerun.stderr.contains("pipeline: not publishing"), rerun.stderr)
        XCTAssertTrue(rerun.stderr.contains("rolled back"), rerun.stderr)
        XCTAssertTrue(rerun.stderr.contains(student), rerun.stderr)
        assertNoUsage(rerun)
        XCTAssertEqual(current(), base)
    }
}
