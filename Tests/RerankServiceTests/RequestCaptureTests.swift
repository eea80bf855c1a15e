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
        let capture = try RequestCapture(settings: settings, logger: Logger(label: "test"))
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
        let off = try RequestCapture(settings: .init(directory: directory, rate: 0), logger: Logger(label: "test"))
        off.offer(query: "q", documents: ["d"])
        off.flush()
        XCTAssertEqual(try files(), [])
        let on = try RequestCapture(settings: .init(directory: directory, rate: 1), logger: Logger(label: "test"))
        try FileManager.default.removeItem(at: directory)  // the volume went away
        on.offer(query: "q", documents: ["d"])
        on.flush()
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.path))
    }
}
