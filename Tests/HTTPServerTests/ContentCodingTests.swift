import Foundation
import XCTest
@testable import HTTPServer

/// zlib decoding against streams written by Python's gzip/zlib (Scripts/fixtures/http_fixtures.py).
final class ContentCodingTests: XCTestCase {
    private func fixture(_ name: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: fixturesDirectory.appendingPathComponent(name)))
    }

    func testDecodesGzipZlibAndRawDeflateFromPython() throws {
        let text = try fixture("text.txt")
        XCTAssertEqual(try ContentCoding.decode(fixture("text.gz"), coding: "gzip", maxOutput: 1 << 20), text)
        XCTAssertEqual(try ContentCoding.decode(fixture("text.gz"), coding: "x-gzip", maxOutput: 1 << 20), text)
        XCTAssertEqual(try ContentCoding.decode(fixture("text.zlib"), coding: "deflate", maxOutput: 1 << 20), text)
        XCTAssertEqual(try ContentCoding.decode(fixture("text.deflate"), coding: "deflate", maxOutput: 1 << 20), text)
    }

    func testDecodedSizeLimitStopsBombs() throws {
        let bomb = try fixture("zeros-100000.gz")
        XCTAssertEqual(try ContentCoding.decode(bomb, coding: "gzip", maxOutput: 100_000).count, 100_000)
        XCTAssertThrowsError(try ContentCoding.decode(bomb, coding: "gzip", maxOutput: 99_999)) { error in
            XCTAssertEqual((error as? HTTPError)?.status, 413)
        }
    }

    func testCorruptTruncatedAndTrailingInputsAre400() throws {
        let gz = try fixture("text.gz")
        for bad in [Array("not gzip".utf8), Array(gz.dropLast(20)), gz + [1, 2, 3]] {
            XCTAssertThrowsError(try ContentCoding.decode(bad, coding: "gzip", maxOutput: 1 << 20)) { error in
                XCTAssertEqual((error as? HTTPError)?.status, 400)
            }
        }
    }

    func testGzipOutputRoundTripsThroughZlib() throws {
        let text = try fixture("text.txt")
        let encoded = ContentCoding.gzip(text)
        XCTAssertEqual(Array(encoded.prefix(2)), [0x1F, 0x8B], "gzip magic")
        XCTAssertLessThan(encoded.count, text.count / 4)
        XCTAssertEqual(try ContentCoding.inflate(encoded, windowBits: 15 + 16, maxOutput: 1 << 20), text)
    }

    func testAcceptEncodingNegotiation() {
        XCTAssertTrue(ContentCoding.acceptsGzip(["gzip, deflate, br"]))
        XCTAssertTrue(ContentCoding.acceptsGzip(["br;q=1.0, gzip;q=0.5"]))
        XCTAssertTrue(ContentCoding.acceptsGzip(["*"]))
        XCTAssertFalse(ContentCoding.acceptsGzip(["gzip;q=0"]))
        XCTAssertFalse(ContentCoding.acceptsGzip(["*;q=0.5, gzip;q=0"]))
        XCTAssertFalse(ContentCoding.acceptsGzip(["identity"]))
        XCTAssertFalse(ContentCoding.acceptsGzip([]))
    }
}
