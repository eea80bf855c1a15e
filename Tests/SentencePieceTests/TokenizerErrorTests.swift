import Foundation
import XCTest
@testable import SentencePiece

/// Bad files must fail with a `TokenizerError` naming the file and the reason, never crash.
final class TokenizerErrorTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tokenizer-errors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: scratch)
    }

    func testMessagesNameTheFile() {
        let error = TokenizerError.malformed(path: "/m/spiece.model", reason: "truncated varint")
        XCTAssertEqual(error.description, "malformed tokenizer file /m/spiece.model: truncated varint")
    }

    @discardableResult
    func write(_ bytes: [UInt8], _ name: String) throws -> URL {
        let url = scratch.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    func fixture(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: FixtureParityTests.fixtures.appendingPathComponent(path)))
    }

    /// The error thrown by `body`, which must be a TokenizerError.
    func tokenizerError(_ body: () throws -> SentencePieceTokenizer) -> TokenizerError? {
        do {
            _ = try body()
            XCTFail("loading succeeded")
            return nil
        } catch let error as TokenizerError {
            return error
        } catch {
            XCTFail("unexpected error type \(error)")
            return nil
        }
    }

    func testDirectoryWithoutTokenizerFiles() {
        guard case let .unreadable(path, _)? = tokenizerError({ try SentencePieceTokenizer(directory: scratch) }) else {
            return XCTFail("expected unreadable")
        }
        XCTAssertEqual(path, scratch.path)
    }

    func testMissingFile() {
        let url = scratch.appendingPathComponent("spiece.model")
        guard case let .unreadable(path, _)? = tokenizerError({ try SentencePieceTokenizer(spieceModel: url) }) else {
            return XCTFail("expected unreadable")
        }
        XCTAssertEqual(path, url.path)
    }

    func testTruncatedSpieceModel() throws {
        let bytes = try fixture("t5/spiece.model")
        let url = try write(Array(bytes[..<(bytes.count / 2)]), "spiece.model")
        guard case let .malformed(path, reason)? = tokenizerError({ try SentencePieceTokenizer(spieceModel: url) }) else {
            return XCTFail("expected malformed")
        }
        XCTAssertEqual(path, url.path)
        XCTAssertTrue(reason.contains("runs past the end"), reason)
    }

    func testTruncatedVarint() throws {
        // Field 1 (pieces), length-delimited, then a length varint whose continuation bit is set at EOF.
        let url = try write([0x0A, 0x80], "spiece.model")
        guard case let .malformed(_, reason)? = tokenizerError({ try SentencePieceTokenizer(spieceModel: url) }) else {
            return XCTFail("expected malformed")
        }
        XCTAssertTrue(reason.contains("truncated varint"), reason)
    }

    func testBPEModelIsUnsupported() throws {
        // ModelProto { pieces { piece: "a" type: UNKNOWN } trainer_spec { model_type: BPE } }, by hand.
        let piece: [UInt8] = [0x0A, 0x01, 0x61, 0x18, 0x02]
        let trainer: [UInt8] = [0x18, 0x02]
        let bytes = [0x0A, UInt8(piece.count)] + piece + [0x12, UInt8(trainer.count)] + trainer
        let url = try write(bytes, "spiece.model")
        guard case let .unsupported(path, reason)? = tokenizerError({ try SentencePieceTokenizer(spieceModel: url) }) else {
            return XCTFail("expected unsupported")
        }
        XCTAssertEqual(path, url.path)
        XCTAssertTrue(reason.contains("bpe"), reason)
    }

    func testTextFileIsNotAModel() throws {
        let url = try write(Array("this is not a protobuf\n".utf8), "spiece.model")
        guard case .malformed? = tokenizerError({ try SentencePieceTokenizer(spieceModel: url) }) else {
            return XCTFail("expected malformed")
        }
    }

    /// Seeded corruptions of real files: each must load (and encode) or throw TokenizerError.
    func testCorruptedFilesNeverCrash() throws {
        var generator = SplitMix64(seed: 42)
        let sources = [("userdefined/spiece.model", "spiece.model"), ("t5/spiece.model", "spiece.model"),
                       ("userdefined/tokenizer.json", "tokenizer.json")]
        for (source, name) in sources {
            let original = try fixture(source)
            for round in 0..<30 {
                var bytes = original
                if round % 3 == 0 {
                    bytes.removeLast(Int(generator.next() % UInt64(bytes.count)))
                } else {
                    for _ in 0..<(1 + round) {
                        bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next())
                    }
                }
                try write(bytes, name)
                do {
                    let tokenizer = try SentencePieceTokenizer(directory: scratch)
                    _ = tokenizer.encode("Hello wörld ﬁ ① 日本 👍🏽 <sep> </s>\t  end")
                } catch is TokenizerError {
                    continue
                }
            }
            // The directory loader prefers spiece.model; clear it before the tokenizer.json rounds.
            try FileManager.default.removeItem(at: scratch.appendingPathComponent(name))
        }
    }

    func json(_ text: String) throws -> URL {
        try write(Array(text.utf8), "tokenizer.json")
    }

    func testInvalidJSON() throws {
        let url = try json("{\"model\": ")
        guard case let .malformed(path, reason)? = tokenizerError({ try SentencePieceTokenizer(tokenizerJSON: url) }) else {
            return XCTFail("expected malformed")
        }
        XCTAssertEqual(path, url.path)
        XCTAssertTrue(reason.contains("invalid JSON"), reason)
    }

    func testWrongJSONShape() throws {
        for text in ["[1, 2]", "{\"model\": 3}", "{\"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"vocab\": [[\"a\"]]}}",
                     "{\"model\": {\"type\": \"Unigram\", \"unk_id\": 5, \"vocab\": [[\"a\", -1.0]]}}"] {
            let url = try json(text)
            guard case .malformed? = tokenizerError({ try SentencePieceTokenizer(tokenizerJSON: url) }) else {
                return XCTFail("expected malformed for \(text)")
            }
        }
    }

    func testBPETokenizerJSONIsUnsupported() throws {
        let url = try json("{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}}")
        guard case let .unsupported(_, reason)? = tokenizerError({ try SentencePieceTokenizer(tokenizerJSON: url) }) else {
            return XCTFail("expected unsupported")
        }
        XCTAssertTrue(reason.contains("BPE"), reason)
    }

    func testUnknownNormalizerIsUnsupported() throws {
        let url = try json("""
            {"normalizer": {"type": "NFKC"}, "model": {"type": "Unigram", "unk_id": 0,
             "vocab": [["<unk>", 0.0], ["</s>", 0.0], ["<pad>", 0.0]]}}
            """)
        guard case let .unsupported(_, reason)? = tokenizerError({ try SentencePieceTokenizer(tokenizerJSON: url) }) else {
            return XCTFail("expected unsupported")
        }
        XCTAssertTrue(reason.contains("NFKC"), reason)
    }
}

/// A small seeded generator so corruptions are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
