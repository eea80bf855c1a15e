import Foundation
import XCTest
import SentencePiece

/// Ids over the hostile corpus must equal those the reference libraries produced
/// (Scripts/fixtures/make_tokenizer_fixtures.py): `sp` from sentencepiece (+ eos), `hf` from
/// the `tokenizers` library on the T5TokenizerFast conversion of the same model, `hf_legacy` from
/// `tokenizers` on the older converter layout of the T5 one, `hf_first` on its legacy=False
/// conversion (prepend `▁` only at the start of the text).
final class FixtureParityTests: XCTestCase {
    struct Expected: Decodable {
        let text: String
        let sp: [Int32]
        let hf: [Int32]
        let hf_legacy: [Int32]?
        let hf_first: [Int32]?
    }

    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tokenizers")

    static func expectations(_ model: String) throws -> [Expected] {
        let data = try Data(contentsOf: fixtures.appendingPathComponent("\(model)/expected.jsonl"))
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        return try lines.map { try JSONDecoder().decode(Expected.self, from: Data($0.utf8)) }
    }

    func assertParity(model: String, loader: (URL) throws -> SentencePieceTokenizer,
                      file: String, expected: (Expected) -> [Int32]?) throws {
        let tokenizer = try loader(Self.fixtures.appendingPathComponent("\(model)/\(file)"))
        let cases = try Self.expectations(model)
        XCTAssertGreaterThan(cases.count, 500)
        var failures = 0
        for line in cases {
            guard let ids = expected(line) else { return XCTFail("\(model) fixture lacks ids") }
            let got = tokenizer.encode(line.text)
            if got != ids {
                failures += 1
                if failures <= 10 {
                    let at = zip(got, ids).prefix { $0 == $1 }.count
                    XCTFail("\(model)/\(file): \(line.text.debugDescription.prefix(80)) differs at token \(at): "
                        + "\(got[at...].prefix(12)) expected \(ids[at...].prefix(12))")
                }
            }
        }
        XCTAssertEqual(failures, 0, "\(model)/\(file): \(failures) of \(cases.count) differ")
    }

    func testT5SpieceModelMatchesSentencePiece() throws {
        try assertParity(model: "t5", loader: SentencePieceTokenizer.init(spieceModel:), file: "spiece.model", expected: { $0.sp })
    }

    func testT5TokenizerJSONMatchesTokenizers() throws {
        try assertParity(model: "t5", loader: SentencePieceTokenizer.init(tokenizerJSON:), file: "tokenizer.json", expected: { $0.hf })
    }

    func testLegacyLayoutTokenizerJSONMatchesTokenizers() throws {
        try assertParity(model: "t5", loader: SentencePieceTokenizer.init(tokenizerJSON:), file: "tokenizer-legacy.json",
                         expected: { $0.hf_legacy })
    }

    func testPrependFirstTokenizerJSONMatchesTokenizers() throws {
        try assertParity(model: "t5", loader: SentencePieceTokenizer.init(tokenizerJSON:), file: "tokenizer-first.json",
                         expected: { $0.hf_first })
    }

    func testByteFallbackTokenizerJSONMatchesTokenizers() throws {
        try assertParity(model: "bytefallback", loader: SentencePieceTokenizer.init(tokenizerJSON:), file: "tokenizer.json",
                         expected: { $0.hf })
    }

    func testUserDefinedTokenizerJSONMatchesTokenizers() throws {
        try assertParity(model: "userdefined", loader: SentencePieceTokenizer.init(tokenizerJSON:), file: "tokenizer.json",
                         expected: { $0.hf })
    }

    func testByteFallbackModelMatchesSentencePiece() throws {
        try assertParity(model: "bytefallback", loader: SentencePieceTokenizer.init(spieceModel:), file: "spiece.model", expected: { $0.sp })
    }

    func testUserDefinedModelMatchesSentencePiece() throws {
        try assertParity(model: "userdefined", loader: SentencePieceTokenizer.init(spieceModel:), file: "spiece.model", expected: { $0.sp })
    }
}
