import Foundation
import Logging
import XCTest
@testable import RerankService

/// Sampling requests for retraining: the teacher's input format, rotation and the size cap, failures that
/// never reach the request.
final class RequestCaptureTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("capture-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func files() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("capture-") }.sorted()
    }

    func testLinesAreTeacherInputAndRotateWithinTheCap() throws {
        // Another replica's file in the shared directory, older than all of ours: never pruned, not counted.
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let neighbour = "capture-20000101T000000.000000Z-rerankd-7f9c-1.jsonl"
        try Data(repeating: 0x20, count: 5000).write(to: directory.appendingPathComponent(neighbour))
        var settings = RequestCapture.Settings(directory: directory, rate: 1)
        settings.maxFileBytes = 400
        settings.maxTotalBytes = 1600
        let capture = RequestCapture(settings: settings, logger: Logger(label: "test"))
        for i in 0..<40 { capture.offer(query: "query \(i) \"quoted\"", documents: ["first document \(i)", "second"]) }
        capture.flush()
        XCTAssertTrue(try files().contains(neighbour))
        let names = try files().filter { $0 != neighbour }
        XCTAssertGreaterThan(names.count, 1)
        XCTAssertTrue(names.allSatisfy { $0.contains("-\(ProcessInfo.processInfo.hostName)-") }, "\(names)")
        var total = 0, lines: [[String: Any]] = []
        for name in names {
            let data = try Data(contentsOf: directory.appendingPathComponent(name))
            total += data.count
            XCTAssertLessThanOrEqual(data.count, 400)
            lines += try String(decoding: data, as: UTF8.self).split(separator: "\n").map {
                try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
            }
        }
        XCTAssertLessThanOrEqual(total, 1600)
        XCTAssertLessThan(lines.count, 40, "the oldest files are deleted beyond the cap")
        XCTAssertEqual(lines.last?["query"] as? String, "query 39 \"quoted\"")
        XCTAssertEqual(lines.last?["documents"] as? [String], ["first document 39", "second"])
        XCTAssertEqual(Set(lines.compactMap { $0["qid"] as? String }).count, lines.count)
    }

    func testRateZeroCapturesNothingAndAnUnwritableDirectoryDropsSilently() throws {
        let off = RequestCapture(settings: .init(directory: directory, rate: 0), logger: Logger(label: "test"))
        off.offer(query: "q", documents: ["d"])
        off.flush()
        XCTAssertEqual(try files(), [])
        let on = RequestCapture(settings: .init(directory: directory, rate: 1), logger: Logger(label: "test"))
        try FileManager.default.removeItem(at: directory)  // the volume went away
        on.offer(query: "q", documents: ["d"])
        on.flush()
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.path))
    }

    /// A directory that cannot be created (here under a regular file; a read-only volume is the same) threw from
    /// init, and rerankd exited: capture is opt-in sampling and must never stop serving. The capture reports why it
    /// is off, drops (and counts) what is sampled meanwhile, and tries again until the directory can be used.
    func testAnUnusableDirectoryIsReportedAndTriedAgain() throws {
        let file = directory!
        try Data("x".utf8).write(to: file)
        let target = file.appendingPathComponent("capture")
        var settings = RequestCapture.Settings(directory: target, rate: 1)
        settings.retryInterval = 0.1
        let capture = RequestCapture(settings: settings, logger: Logger(label: "test"))
        let status = capture.status
        XCTAssertFalse(status.active)
        XCTAssertEqual(status.directory, target.path)
        XCTAssertTrue(status.error?.contains("Not a directory") == true && status.error?.contains(file.path) == true,
                      "\(status)")
        XCTAssertFalse(status.error?.contains("NSCocoaErrorDomain") == true, "\(status)")
        capture.offer(query: "dropped", documents: ["d"])
        capture.flush()

        try FileManager.default.removeItem(at: file)  // the path can be made now
        let deadline = Date().addingTimeInterval(10)
        while !capture.status.active, Date() < deadline { usleep(20_000) }
        XCTAssertTrue(capture.status.active, "\(capture.status)")
        XCTAssertNil(capture.status.error)
        capture.offer(query: "kept", documents: ["d"])
        capture.flush()
        let names = try FileManager.default.contentsOfDirectory(atPath: target.path).filter { $0.hasPrefix("capture-") }
        XCTAssertEqual(names.count, 1)
        let text = try String(contentsOf: target.appendingPathComponent(names[0]), encoding: .utf8)
        XCTAssertTrue(text.contains("kept") && !text.contains("dropped"), text)
    }

    /// Capture files hold users' text: owner-only.
    func testCaptureFilesAreOwnerOnly() throws {
        let capture = RequestCapture(settings: .init(directory: directory, rate: 1), logger: Logger(label: "test"))
        capture.offer(query: "private query", documents: ["private document"])
        capture.flush()
        let names = try files()
        XCTAssertEqual(names.count, 1)
        for name in names {
            let attributes = try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(name).path)
            XCTAssertEqual((attributes[.posixPermissions] as? Int).map { $0 & 0o777 }, 0o600, name)
        }
    }

    /// Writes that fail (here a file size limit of 100 bytes, shorter than one line) drop lines into the one file
    /// already open, not one new empty file per line, and cut a partly written line off again: once writes work,
    /// the same file goes on with whole lines.
    func testFailingWritesKeepOneFileOfWholeLines() throws {
        let capture = RequestCapture(settings: .init(directory: directory, rate: 1), logger: Logger(label: "test"))
        var saved = rlimit()
        XCTAssertEqual(getrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved), 0)
        let previousHandler = signal(SIGXFSZ, SIG_IGN)
        var limited = saved
        limited.rlim_cur = 100
        XCTAssertEqual(setrlimit(Int32(RLIMIT_FSIZE.rawValue), &limited), 0)
        for i in 0..<50 { capture.offer(query: "query \(i) that is long enough to pass the limit", documents: ["document \(i)"]) }
        capture.flush()
        XCTAssertEqual(setrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved), 0)
        signal(SIGXFSZ, previousHandler)
        let afterFailures = try files()
        XCTAssertLessThanOrEqual(afterFailures.count, 1, "\(afterFailures)")

        for i in 0..<3 { capture.offer(query: "after \(i)", documents: ["d"]) }
        capture.flush()
        let names = try files()
        XCTAssertEqual(names.count, 1)
        let text = try String(contentsOf: directory.appendingPathComponent(names[0]), encoding: .utf8)
        let lines = try text.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(lines.compactMap { $0["query"] as? String }, ["after 0", "after 1", "after 2"])
    }

    /// A full volume (a 64 KiB tmpfs, filled): lines are dropped, at most one capture file is created, and capture
    /// resumes in it once there is room. Needs root for the mount.
    func testAFullVolumeCreatesNoFilePerDroppedLine() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        guard mount(directory.path, options: "size=64k") else { throw XCTSkip("cannot mount a tmpfs here (needs root)") }
        defer { _ = umount(directory.path) }
        let filler = directory.appendingPathComponent("filler")
        FileManager.default.createFile(atPath: filler.path, contents: nil)
        let handle = try FileHandle(forWritingTo: filler)
        while (try? handle.write(contentsOf: Data(count: 4096))) != nil {}
        try? handle.close()

        let capture = RequestCapture(settings: .init(directory: directory, rate: 1), logger: Logger(label: "test"))
        for i in 0..<200 { capture.offer(query: "query \(i)", documents: ["document \(i)"]) }
        capture.flush()
        let afterFull = try files()
        XCTAssertLessThanOrEqual(afterFull.count, 1, "\(afterFull.count) files")

        try FileManager.default.removeItem(at: filler)
        capture.offer(query: "room again", documents: ["d"])
        capture.flush()
        let names = try files()
        XCTAssertEqual(names.count, 1)
        let text = try String(contentsOf: directory.appendingPathComponent(names[0]), encoding: .utf8)
        XCTAssertEqual(text.split(separator: "\n").count, 1, text)
        XCTAssertTrue(text.contains("room again"), text)
    }

    func mount(_ path: String, options: String) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/mount")
        process.arguments = ["-t", "tmpfs", "-o", options, "tmpfs", path]
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}
