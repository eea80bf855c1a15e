import Foundation
import XCTest
@testable import HTTPServer

/// A seeded random mutator over valid requests, run for a bounded number of cases: the parser must
/// never crash or hang, must answer only with the statuses it is allowed to, and must reach the same
/// outcome however the input is split across reads.
final class ParserFuzzTests: XCTestCase {
    private static let seeds = [
        "GET /index.html?q=1 HTTP/1.1\r\nHost: example\r\nAccept: */*\r\n\r\n",
        "POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"query\":1}",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nT: v\r\n\r\n",
        "GET http://h/p HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
        "PUT /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    ].map { Array($0.utf8) }

    private static let interesting: [UInt8] = Array("\r\n :;,\t0fF-+\u{7F}chunked".utf8) + [0, 0x80, 0xFF]

    /// xorshift64*, so every run explores the same cases.
    private struct Random {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return Int((state &* 2685821657736338717) % UInt64(max(bound, 1)))
        }
    }

    private func mutate(_ input: [UInt8], _ random: inout Random) -> [UInt8] {
        var bytes = input
        for _ in 0...random.next(4) {
            let at = random.next(bytes.count + 1)
            switch random.next(6) {
            case 0 where at < bytes.count: bytes[at] = Self.interesting[random.next(Self.interesting.count)]
            case 1: bytes.insert(Self.interesting[random.next(Self.interesting.count)], at: at)
            case 2 where at < bytes.count: bytes.remove(at: at)
            case 3: bytes.insert(contentsOf: bytes[at...].prefix(random.next(40)), at: at)
            case 4 where at < bytes.count: bytes[at] ^= UInt8(1 << random.next(8))
            default: bytes = Array(bytes.prefix(at)) + Array(Self.seeds[random.next(Self.seeds.count)])
            }
        }
        return bytes
    }

    func testMutatedRequestsNeverCrashAndSplitsAgree() {
        var random = Random(state: 0x9E37_79B9_7F4A_7C15)
        var limits = HTTPServerConfiguration.Limits()
        limits.maxHeaderBytes = 512
        limits.maxURILength = 128
        limits.maxBodyBytes = 256
        let allowed: Set<Int> = [400, 413, 414, 417, 431, 501, 505]
        var errors = 0
        // HTTP_FUZZ_ITERATIONS runs a longer campaign by hand; CI keeps the bounded default.
        let iterations = ProcessInfo.processInfo.environment["HTTP_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 3000
        for _ in 0..<iterations {
            let input = mutate(Self.seeds[random.next(Self.seeds.count)], &random)
            let whole = HTTP1RequestParserTests.run(input, limits: limits)
            let pieces = (0..<8).map { _ in 1 + random.next(16) }
            let split = HTTP1RequestParserTests.run(input, pieces: pieces, limits: limits)
            XCTAssertEqual(whole, split, "split changed the outcome for \(String(decoding: input, as: UTF8.self).debugDescription)")
            if case .error(let status, _) = whole {
                errors += 1
                XCTAssertTrue(allowed.contains(status), "unexpected status \(status)")
            }
        }
        XCTAssertGreaterThan(errors, 300, "the mutator should reach error paths")
    }
}
