import Foundation
import XCTest
@testable import T5

/// Checkpoint files that are not what they were a moment ago, or not files at all: a load fails with an error
/// naming the file, in bounded time, and the process lives (a mapped file that shrinks gives SIGBUS).
final class ChangingFileTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("t5-changing-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: Fixtures.directory.appendingPathComponent("tiny_f32"), to: directory)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    private var modelPath: String { directory.appendingPathComponent("model.safetensors").path }

    func testAFileThatShrinksAfterItsHeaderWasReadFailsNamingIt() throws {
        let file = try SafeTensorsFile(path: modelPath)
        let (name, last) = try XCTUnwrap(file.entries.max { $0.value.end < $1.value.end })
        XCTAssertEqual(truncate(modelPath, off_t(8 + 64)), 0)
        var values = [Float](repeating: 0, count: last.elementCount)
        XCTAssertThrowsError(try values.withUnsafeMutableBufferPointer { try file.copy(name, into: $0.baseAddress!) }) {
            let text = "\($0)"
            XCTAssertTrue(text.hasPrefix(self.modelPath), text)
            XCTAssertTrue(text.contains("shrank while being read"), text)
        }
        XCTAssertThrowsError(try file.checkUnchanged()) { XCTAssertTrue("\($0)".contains("changed while loading"), "\($0)") }
    }

    func testAFIFOInPlaceOfAFileIsRefusedWithoutBlocking() throws {
        for name in ["model.safetensors", "config.json"] {
            let path = directory.appendingPathComponent(name).path
            try FileManager.default.removeItem(atPath: path)
            XCTAssertEqual(mkfifo(path, 0o600), 0)
            let started = Date()
            XCTAssertThrowsError(try T5Model(directory: directory), name) {
                let text = "\($0)"
                XCTAssertTrue(text.contains(path) && text.contains("FIFO"), text)
            }
            XCTAssertLessThan(Date().timeIntervalSince(started), 5, name)
            try FileManager.default.removeItem(atPath: path)
            try FileManager.default.copyItem(at: Fixtures.directory.appendingPathComponent("tiny_f32/\(name)"),
                                             to: URL(fileURLWithPath: path))
        }
    }
}
