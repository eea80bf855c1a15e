import Foundation
import ParityFixtures
import XCTest

/// What `rerank-admin publish` and `rollback` must refuse or survive: hub snapshots of symlinks, FIFOs and devices,
/// stray files and training checkpoints, a version every server would refuse, a full volume, and version ids that
/// are paths.
final class ModelStoreSafetyTests: XCTestCase {
    var scratch: URL!
    var store: URL { scratch.appendingPathComponent("store") }
    var versions: URL { store.appendingPathComponent("versions") }
    var mounts: [String] = []

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("store-safety-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        for mount in mounts.reversed() { _ = try? Self.run("/bin/umount", [mount]) }
        try? FileManager.default.removeItem(at: scratch)
    }

    var randomModel: URL { ParityFixtures.root.appendingPathComponent("Tests/Fixtures/ranking/random_v4").resolvingSymlinksInPath() }
    var other: URL { ParityFixtures.root.appendingPathComponent("Tests/Fixtures/ranking/random_v5_fresh") }
    /// What a version of random_v4 holds: its checkpoint files, not expected_scores.jsonl.
    let checkpointNames = ["README.md", "config.json", "generation_config.json", "model.safetensors",
                           "special_tokens_map.json", "spiece.model", "tokenizer.json", "tokenizer_config.json"]

    /// Runs `executable`, killed (status 137) after `timeout` seconds, so a publish that blocks fails the test
    /// instead of hanging it; stdout comes back trimmed.
    static func run(_ executable: String, _ arguments: [String], timeout: Int = 120) throws
        -> (status: Int32, stdout: String, stderr: String) {
        let result = try Admin.runProcess(executable, arguments, timeout: timeout)
        return (result.status, result.stdout.trimmingCharacters(in: .whitespacesAndNewlines), result.stderr)
    }

    func admin(_ arguments: [String], timeout: Int = 120) throws -> (status: Int32, stdout: String, stderr: String) {
        try Self.run(Admin.binary.path, arguments, timeout: timeout)
    }

    func publish(_ directory: URL, _ extra: [String] = []) throws -> (status: Int32, stdout: String, stderr: String) {
        try admin(["publish", directory.path, "--store", store.path] + extra)
    }

    /// A copy of random_v4 (regular files) to edit.
    func copyOfRandomModel(_ name: String) throws -> URL {
        let target = scratch.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        for file in try FileManager.default.contentsOfDirectory(atPath: randomModel.path) {
            try FileManager.default.copyItem(at: randomModel.appendingPathComponent(file), to: target.appendingPathComponent(file))
        }
        return target
    }

    func current() -> String? { try? FileManager.default.destinationOfSymbolicLink(atPath: store.appendingPathComponent("current").path) }
    func history() -> String { (try? String(contentsOf: store.appendingPathComponent("history"), encoding: .utf8)) ?? "" }
    func entries(_ directory: URL) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted() }

    func assertRefused(_ result: (status: Int32, stdout: String, stderr: String), naming fragments: [String],
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(result.status, 0, result.stderr, file: file, line: line)
        XCTAssertNotEqual(result.status, 137, "killed after the timeout: it blocked", file: file, line: line)
        XCTAssertEqual(result.stdout, "", file: file, line: line)
        for fragment in fragments { XCTAssertTrue(result.stderr.contains(fragment), "\(fragment): \(result.stderr)", file: file, line: line) }
        XCTAssertFalse(result.stderr.contains("Usage:"), result.stderr, file: file, line: line)
    }

    // MARK: 5. What publish copies

    /// A Hugging Face hub snapshot is symlinks into ../../blobs: the version holds the files' contents, so it still
    /// loads once the blobs are gone, and it is the same version as the same files copied plainly.
    func testAHubSnapshotIsCopiedByContent() throws {
        let hub = scratch.appendingPathComponent("hub/models--t5")
        let snapshot = hub.appendingPathComponent("snapshots/0123abc")
        try FileManager.default.createDirectory(at: snapshot, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: hub.appendingPathComponent("blobs"), withIntermediateDirectories: true)
        for (index, name) in try FileManager.default.contentsOfDirectory(atPath: randomModel.path).sorted().enumerated() {
            try FileManager.default.copyItem(at: randomModel.appendingPathComponent(name),
                                             to: hub.appendingPathComponent("blobs/blob\(index)"))
            try FileManager.default.createSymbolicLink(atPath: snapshot.appendingPathComponent(name).path,
                                                       withDestinationPath: "../../blobs/blob\(index)")
        }
        let published = try publish(snapshot)
        XCTAssertEqual(published.status, 0, published.stderr)
        let version = versions.appendingPathComponent(published.stdout)
        XCTAssertEqual(entries(version), checkpointNames)
        for name in checkpointNames {
            let attributes = try FileManager.default.attributesOfItem(atPath: version.appendingPathComponent(name).path)
            XCTAssertEqual(attributes[.type] as? FileAttributeType, .typeRegular, name)
            XCTAssertEqual(try Data(contentsOf: version.appendingPathComponent(name)),
                           try Data(contentsOf: randomModel.appendingPathComponent(name)), name)
        }
        XCTAssertTrue(published.stderr.contains("not copying \(snapshot.path)/expected_scores.jsonl"), published.stderr)

        // The target moves: the version does not care.
        try FileManager.default.removeItem(at: hub)
        let input = scratch.appendingPathComponent("input.jsonl")
        try Data(#"{"query": "rainbows", "documents": ["light"]}"#.utf8).write(to: input)
        let scored = try admin(["score", "--model", store.appendingPathComponent("current").path, "--input", input.path])
        XCTAssertEqual(scored.status, 0, scored.stderr)
        XCTAssertTrue(scored.stdout.contains("scores"), scored.stdout)
        let plain = try publish(randomModel)
        XCTAssertEqual(plain.stdout, published.stdout, "the same files are the same version")
    }

    /// Only the checkpoint's files are copied (the others are named in a warning); a training checkpoint is refused.
    func testStrayFilesAreLeftOutAndATrainingCheckpointIsRefused() throws {
        let source = try copyOfRandomModel("with-extras")
        try Data(count: 3 << 20).write(to: source.appendingPathComponent("extra.bin"))
        try Data("pickle".utf8).write(to: source.appendingPathComponent("pytorch_model.bin"))
        try FileManager.default.createDirectory(at: source.appendingPathComponent("runs"), withIntermediateDirectories: true)
        let published = try publish(source)
        XCTAssertEqual(published.status, 0, published.stderr)
        XCTAssertEqual(entries(versions.appendingPathComponent(published.stdout)), checkpointNames)
        for name in ["extra.bin (3.0 MiB)", "pytorch_model.bin", "runs (a directory)"] {
            XCTAssertTrue(published.stderr.contains("not copying \(source.path)/\(name)"), published.stderr)
        }

        let training = try copyOfRandomModel("student.checkpoint")
        try Data(count: 1024).write(to: training.appendingPathComponent("optimizer.safetensors"))
        try Data(#"{"step": 100, "updates": 100, "job": "x"}"#.utf8).write(to: training.appendingPathComponent("state.json"))
        assertRefused(try publish(training), naming: ["\(training.path) is a training checkpoint", "optimizer.safetensors", "--output"])
        XCTAssertEqual(current(), "versions/\(published.stdout)")
        XCTAssertEqual(entries(versions), [published.stdout])

        let notACheckpoint = scratch.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: notACheckpoint, withIntermediateDirectories: true)
        assertRefused(try publish(notACheckpoint), naming: ["\(notACheckpoint.path) is not a checkpoint directory", "config.json"])
    }

    /// A sharded checkpoint: the index and the shards its weight_map names are copied, another shard is not, and an
    /// index naming a path instead of a file is refused.
    func testAShardedCheckpointCopiesTheShardsItsIndexNames() throws {
        let source = try copyOfRandomModel("sharded")
        let weights = source.appendingPathComponent("model.safetensors")
        let data = try Data(contentsOf: weights)
        let length = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as! [String: Any]
        let shard = "model-00001-of-00001.safetensors"
        func writeIndex(naming file: String) throws {
            let map = Dictionary(uniqueKeysWithValues: header.keys.filter { $0 != "__metadata__" }.map { ($0, file) })
            try JSONSerialization.data(withJSONObject: ["metadata": [:], "weight_map": map])
                .write(to: source.appendingPathComponent("model.safetensors.index.json"))
        }
        try writeIndex(naming: shard)
        try FileManager.default.moveItem(at: weights, to: source.appendingPathComponent(shard))
        try Data(count: 100).write(to: source.appendingPathComponent("model-00002-of-00002.safetensors"))
        let published = try publish(source)
        XCTAssertEqual(published.status, 0, published.stderr)
        XCTAssertEqual(entries(versions.appendingPathComponent(published.stdout)),
                       (checkpointNames.filter { $0 != "model.safetensors" } + [shard, "model.safetensors.index.json"]).sorted())
        XCTAssertTrue(published.stderr.contains("not copying \(source.path)/model-00002-of-00002.safetensors"), published.stderr)

        try writeIndex(naming: "../\(shard)")
        assertRefused(try publish(source), naming: ["\(source.path)/model.safetensors.index.json", "\"../\(shard)\" is not a plain file name"])
    }

    /// A FIFO or a link to /dev/zero among the checkpoint's files is refused at once (it used to block publish
    /// forever, holding STORE/.lock); the next publish goes through.
    func testFIFOsAndDevicesAreRefusedWithoutBlocking() throws {
        let fifo = try copyOfRandomModel("fifo")
        try FileManager.default.removeItem(at: fifo.appendingPathComponent("tokenizer.json"))
        XCTAssertEqual(mkfifo(fifo.appendingPathComponent("tokenizer.json").path, 0o644), 0)
        let blocked = try admin(["publish", fifo.path, "--store", store.path], timeout: 60)
        assertRefused(blocked, naming: ["\(fifo.path)/tokenizer.json is a FIFO"])

        let device = try copyOfRandomModel("device")
        try FileManager.default.removeItem(at: device.appendingPathComponent("model.safetensors"))
        try FileManager.default.createSymbolicLink(atPath: device.appendingPathComponent("model.safetensors").path,
                                                   withDestinationPath: "/dev/zero")
        let refused = try admin(["publish", device.path, "--store", store.path], timeout: 60)
        assertRefused(refused, naming: ["\(device.path)/model.safetensors is a character device"])

        XCTAssertNil(current())
        let published = try admin(["publish", randomModel.path, "--store", store.path], timeout: 60)
        XCTAssertEqual(published.status, 0, published.stderr)
        XCTAssertEqual(entries(versions), [published.stdout])
    }

    // MARK: 6. One validation for publish and the servers

    /// encoder.block.0.layer.1.DenseReluDense.wo.weight[28][89] = 3e38 scores publish's old smoke pair finite and
    /// rerankd's NaN: publish used to make it current and no replica could start. Now both run the same check.
    func testPublishRefusesWhatEveryServerRefuses() throws {
        let source = try copyOfRandomModel("huge-weight")
        try setBF16(in: source.appendingPathComponent("model.safetensors"),
                    tensor: "encoder.block.0.layer.1.DenseReluDense.wo.weight", row: 28, column: 89, to: 3e38)
        let refused = try publish(source)
        assertRefused(refused, naming: ["not publishing \(source.path)", "smoke score is not finite"])
        XCTAssertNil(current())
        XCTAssertEqual(entries(versions), [])

        let server = try Self.run(RerankdProcessTests.binary.path, ["--model", source.path, "--port", "0"], timeout: 60)
        XCTAssertNotEqual(server.status, 0)
        XCTAssertTrue(server.stderr.contains("smoke score is not finite"), server.stderr)
    }

    /// Sets one BF16 element of a tensor in a safetensors file.
    func setBF16(in file: URL, tensor: String, row: Int, column: Int, to value: Float) throws {
        var data = try Data(contentsOf: file)
        let length = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as! [String: Any]
        let entry = try XCTUnwrap(header[tensor] as? [String: Any])
        XCTAssertEqual(entry["dtype"] as? String, "BF16")
        let columns = (entry["shape"] as! [Int])[1]
        let offset = 8 + length + (entry["data_offsets"] as! [Int])[0] + 2 * (row * columns + column)
        let bits = UInt16(value.bitPattern >> 16)
        data[offset] = UInt8(bits & 0xFF)
        data[offset + 1] = UInt8(bits >> 8)
        try data.write(to: file)
    }

    // MARK: 7. Failures leave nothing behind

    /// A publish onto a volume without room for the checkpoint fails naming the store and the sizes, leaves no
    /// versions/.incoming-* behind, and the next publish (once there is room) succeeds. Needs root for the tmpfs.
    func testAFullVolumeFailsCleanly() throws {
        try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
        let mounted = try Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", store.path])
        guard mounted.status == 0 else { throw XCTSkip("cannot mount a tmpfs here (needs root): \(mounted.stderr)") }
        mounts.append(store.path)
        let refused = try publish(randomModel)
        assertRefused(refused, naming: ["\(versions.path): not enough space to publish \(randomModel.path)", "free"])
        XCTAssertEqual(entries(versions), [])
        XCTAssertNil(current())

        XCTAssertEqual(try Self.run("/bin/mount", ["-o", "remount,size=16m", store.path]).status, 0)
        let published = try publish(randomModel)
        XCTAssertEqual(published.status, 0, published.stderr)
        XCTAssertEqual(entries(versions), [published.stdout])
    }

    /// A write that fails in the middle of the copy (a file size limit: the volume filling up while copying) names
    /// the file, leaves nothing behind, and the next publish succeeds.
    func testAWriteFailureInTheMiddleOfTheCopyLeavesNothingBehind() throws {
        let limited = try Self.run("/bin/bash", ["-c", "trap '' XFSZ; ulimit -f 1024; exec \"$0\" \"$@\"",
                                                 Admin.binary.path, "publish", randomModel.path, "--store", store.path])
        assertRefused(limited, naming: ["copying \(randomModel.path)/model.safetensors to", "File too large", "nothing was published"])
        XCTAssertEqual(entries(versions), [])
        XCTAssertNil(current())
        let published = try publish(randomModel)
        XCTAssertEqual(published.status, 0, published.stderr)
        XCTAssertEqual(entries(versions), [published.stdout])
    }

    /// What a killed publish left (versions/.incoming-PID) is removed by the next one, under the lock.
    func testLeftoversOfAKilledPublishAreRemoved() throws {
        let leftover = versions.appendingPathComponent(".incoming-4242")
        try FileManager.default.createDirectory(at: leftover, withIntermediateDirectories: true)
        try Data(count: 1 << 20).write(to: leftover.appendingPathComponent("model.safetensors"))
        let published = try publish(randomModel)
        XCTAssertEqual(published.status, 0, published.stderr)
        XCTAssertEqual(entries(versions), [published.stdout])
        XCTAssertTrue(published.stderr.contains("removed \(leftover.path)"), published.stderr)
    }

    // MARK: 8. rollback --to takes version ids only

    func testRollbackTakesOnlyVersionIds() throws {
        let first = try publish(randomModel).stdout
        let second = try publish(other).stdout
        XCTAssertEqual(current(), "versions/\(second)")
        let historyBefore = history()
        for bad in ["", ".", "..", "../../x", "versions", "./\(first)", "\(first)/", "\(first)/..", ".incoming-1", "../store/versions/\(first)"] {
            let refused = try admin(["rollback", "--store", store.path, "--to", bad])
            assertRefused(refused, naming: ["no version \"\(bad)\" in model store \(store.path)", "\(second), \(first)"])
            XCTAssertEqual(current(), "versions/\(second)", bad)
            XCTAssertEqual(history(), historyBefore, bad)
        }
        // Lines older publishers wrote for such ids are ignored; the previous version is the previous real one.
        let junk = "..\t2025-01-01T00:00:00Z\trollback\n\t2025-01-01T00:00:00Z\trollback\n"
        let handle = try FileHandle(forWritingTo: store.appendingPathComponent("history"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(junk.utf8))
        try handle.close()
        XCTAssertEqual(try admin(["rollback", "--store", store.path]).stdout, first)
        XCTAssertEqual(current(), "versions/\(first)")

        // A `current` such a rollback left (pointing at the store root) is refused, not followed, and can be repaired.
        unlink(store.appendingPathComponent("current").path)
        symlink("versions/..", store.appendingPathComponent("current").path)
        let server = try Self.run(RerankdProcessTests.binary.path, ["--model-store", store.path, "--port", "0"], timeout: 60)
        XCTAssertNotEqual(server.status, 0)
        XCTAssertTrue(server.stderr.contains("points to \"versions/..\", not to versions/<id>"), server.stderr)
        let repaired = try admin(["rollback", "--store", store.path, "--to", second])
        XCTAssertEqual(repaired.status, 0, repaired.stderr)
        XCTAssertEqual(current(), "versions/\(second)")
    }
}
