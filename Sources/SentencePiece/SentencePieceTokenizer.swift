import FileReading
import Foundation

/// Text to token ids with a SentencePiece unigram model, read from sentencepiece's
/// `spiece.model` (encoding as the `sentencepiece` library does) or from a Hugging Face
/// `tokenizer.json` (encoding as the `tokenizers` library does).
public struct SentencePieceTokenizer: Sendable {
    private enum Encoder: Sendable {
        case sentencePiece(SentencePieceEncoder)
        case tokenizers(TokenizersEncoder)
    }

    private let encoder: Encoder
    private let vocabulary: Vocabulary
    public let eosID: Int32
    public let padID: Int32
    public let unkID: Int32

    /// Loads `spiece.model` if present in the directory, else `tokenizer.json`.
    public init(directory: URL) throws {
        let model = directory.appendingPathComponent("spiece.model")
        let json = directory.appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: model.path) {
            try self.init(spieceModel: model)
        } else if FileManager.default.fileExists(atPath: json.path) {
            try self.init(tokenizerJSON: json)
        } else {
            throw TokenizerError.unreadable(path: directory.path, reason: "neither spiece.model nor tokenizer.json exists")
        }
    }

    public init(spieceModel url: URL) throws {
        let bytes = try Self.read(url)
        let path = url.path
        let proto: ModelProto
        do {
            proto = try ModelProto(bytes: bytes)
        } catch let error as FormatError {
            throw TokenizerError.malformed(path: path, reason: error.reason)
        }
        guard proto.modelType == .unigram else {
            throw TokenizerError.unsupported(path: path, reason: "model type \(proto.modelType); only unigram is supported")
        }
        guard !proto.treatWhitespaceAsSuffix else {
            throw TokenizerError.unsupported(path: path, reason: "treat_whitespace_as_suffix is not supported")
        }
        let unknown = proto.pieces.indices.filter { proto.pieces[$0].type == .unknown }
        guard unknown.count == 1 else {
            throw TokenizerError.malformed(path: path, reason: "the model has \(unknown.count) unknown pieces, expected one")
        }
        for (name, id) in [("eos_id", proto.eosID), ("pad_id", proto.padID)] {
            guard id >= 0, Int(id) < proto.pieces.count else {
                throw TokenizerError.unsupported(path: path, reason: "\(name) \(id) names no piece; T5 needs </s> and <pad>")
            }
        }
        do {
            encoder = .sentencePiece(try SentencePieceEncoder(proto: proto, unknownID: Int32(unknown[0])))
        } catch let error as FormatError {
            throw TokenizerError.malformed(path: path, reason: error.reason)
        }
        vocabulary = Vocabulary(pieces: proto.pieces.map(\.text))
        eosID = proto.eosID
        padID = proto.padID
        unkID = Int32(unknown[0])
    }

    public init(tokenizerJSON url: URL) throws {
        let bytes = try Self.read(url)
        let model: TokenizerJSONModel
        do {
            model = try TokenizerJSONLoader.load(Data(bytes))
        } catch let error as FormatError {
            throw TokenizerError.malformed(path: url.path, reason: error.reason)
        } catch let error as UnsupportedFeature {
            throw TokenizerError.unsupported(path: url.path, reason: error.reason)
        }
        encoder = .tokenizers(model.encoder)
        vocabulary = model.vocabulary
        eosID = model.eosID
        padID = model.padID
        unkID = model.unkID
    }

    /// Tokenizer files above this are not tokenizers (the largest real ones, e.g. mT5's, are ~20 MB).
    static let maxFileBytes = 256 << 20

    private static func read(_ url: URL) throws -> [UInt8] {
        do {
            return try readRegularFile(url.path, maxBytes: maxFileBytes)
        } catch {
            throw TokenizerError.unreadable(path: url.path, reason: error.reason)
        }
    }

    /// Token ids of `text`, with `</s>` appended when `appendEOS`.
    public func encode(_ text: String, appendEOS: Bool = true) -> [Int32] {
        var ids: [Int32] = []
        ids.reserveCapacity(text.utf8.count / 3 + 2)
        switch encoder {
        case let .sentencePiece(encoder): encoder.encode(text, into: &ids)
        case let .tokenizers(encoder): encoder.encode(text, into: &ids)
        }
        if appendEOS { ids.append(eosID) }
        return ids
    }

    /// Id of a piece string such as "▁Yes", or nil when the vocabulary lacks it.
    public func id(ofPiece piece: String) -> Int32? {
        vocabulary.id(of: piece)
    }

    public func piece(ofID id: Int32) -> String? {
        vocabulary.piece(of: id)
    }

    public var vocabularySize: Int { vocabulary.pieces.count }
}
