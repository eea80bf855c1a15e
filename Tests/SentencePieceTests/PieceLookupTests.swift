import Foundation
import XCTest
import SentencePiece

/// Piece ids, special ids and vocabulary sizes against those sentencepiece and `tokenizers`
/// report for the same files (pieces.json, written by make_tokenizer_fixtures.py).
final class PieceLookupTests: XCTestCase {
    struct Table: Decodable {
        let sp_vocab_size: Int
        let sp_ids: [String: Int32]
        let sp_special: [String: Int32]
        let hf_vocab_size: Int
        let hf_ids: [String: Int32]
    }

    static func table(_ model: String) throws -> Table {
        let url = FixtureParityTests.fixtures.appendingPathComponent("\(model)/pieces.json")
        return try JSONDecoder().decode(Table.self, from: Data(contentsOf: url))
    }

    static let probes = ["<pad>", "</s>", "<unk>", "▁Yes", "▁No", "▁true", "▁false", "▁passage", "▁A", "▁B", "▁",
                         "<extra_id_0>", "<extra_id_99>", "<sep>", "[MASK]", "<0x41>", "▁nonexistentpiece"]

    func testSpieceModelLookups() throws {
        for model in ["t5", "bytefallback", "userdefined"] {
            let table = try Self.table(model)
            let url = FixtureParityTests.fixtures.appendingPathComponent("\(model)/spiece.model")
            let tokenizer = try SentencePieceTokenizer(spieceModel: url)
            XCTAssertEqual(tokenizer.vocabularySize, table.sp_vocab_size, model)
            XCTAssertEqual(tokenizer.eosID, table.sp_special["eos"], model)
            XCTAssertEqual(tokenizer.padID, table.sp_special["pad"], model)
            XCTAssertEqual(tokenizer.unkID, table.sp_special["unk"], model)
            for piece in Self.probes {
                XCTAssertEqual(tokenizer.id(ofPiece: piece), table.sp_ids[piece], "\(model) \(piece)")
                if let id = table.sp_ids[piece] {
                    XCTAssertEqual(tokenizer.piece(ofID: id), piece, "\(model) \(id)")
                }
            }
            XCTAssertNil(tokenizer.piece(ofID: Int32(table.sp_vocab_size)))
            XCTAssertNil(tokenizer.piece(ofID: -1))
        }
    }

    func testTokenizerJSONLookups() throws {
        for model in ["t5", "bytefallback", "userdefined"] {
            let table = try Self.table(model)
            let url = FixtureParityTests.fixtures.appendingPathComponent("\(model)/tokenizer.json")
            let tokenizer = try SentencePieceTokenizer(tokenizerJSON: url)
            XCTAssertEqual(tokenizer.vocabularySize, table.hf_vocab_size, model)
            XCTAssertEqual(tokenizer.eosID, table.hf_ids["</s>"], model)
            XCTAssertEqual(tokenizer.padID, table.hf_ids["<pad>"], model)
            XCTAssertEqual(tokenizer.unkID, table.hf_ids["<unk>"], model)
            for piece in Self.probes {
                XCTAssertEqual(tokenizer.id(ofPiece: piece), table.hf_ids[piece], "\(model) \(piece)")
                if let id = table.hf_ids[piece] {
                    XCTAssertEqual(tokenizer.piece(ofID: id), piece, "\(model) \(id)")
                }
            }
        }
    }

    func testT5ModelHasThePromptPieces() throws {
        let tokenizer = try SentencePieceTokenizer(directory: FixtureParityTests.fixtures.appendingPathComponent("t5"))
        for piece in ["▁Yes", "▁No", "▁true", "▁false", "▁passage", "▁A", "▁B"] {
            XCTAssertNotNil(tokenizer.id(ofPiece: piece), piece)
        }
        XCTAssertEqual(tokenizer.encode("", appendEOS: true), [tokenizer.eosID])
        XCTAssertEqual(tokenizer.encode("", appendEOS: false), [])
    }
}
