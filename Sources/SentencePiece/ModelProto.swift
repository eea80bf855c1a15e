/// The parts of sentencepiece's `ModelProto` that encoding needs, decoded by hand from protobuf.
struct ModelProto {
    /// `ModelProto.SentencePiece.Type`.
    enum PieceType: Int32 {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    struct Piece {
        var text: String
        var score: Float
        var type: PieceType
    }

    /// `TrainerSpec.ModelType`; only unigram can be encoded.
    enum ModelType: Int32 {
        case unigram = 1, bpe = 2, word = 3, char = 4
    }

    var pieces: [Piece] = []
    var modelType: ModelType = .unigram
    var byteFallback = false
    var treatWhitespaceAsSuffix = false
    // Defaults of TrainerSpec in sentencepiece_model.proto.
    var unkID: Int32 = 0
    var bosID: Int32 = 1
    var eosID: Int32 = 2
    var padID: Int32 = -1
    var normalizerName = ""
    var precompiledCharsMap: [UInt8] = []
    var addDummyPrefix = true
    var removeExtraWhitespaces = true
    var escapeWhitespaces = true

    init(bytes: [UInt8]) throws {
        var reader = WireFormatReader(bytes: bytes, range: 0..<bytes.count)
        while !reader.isAtEnd {
            let (field, type) = try reader.readTag()
            switch field {
            case 1:
                try reader.expect(type, is: .lengthDelimited, field: "ModelProto.pieces")
                pieces.append(try Self.piece(bytes, try reader.readLengthDelimited()))
            case 2:
                try reader.expect(type, is: .lengthDelimited, field: "ModelProto.trainer_spec")
                try readTrainerSpec(bytes, try reader.readLengthDelimited())
            case 3:
                try reader.expect(type, is: .lengthDelimited, field: "ModelProto.normalizer_spec")
                try readNormalizerSpec(bytes, try reader.readLengthDelimited())
            default:
                try reader.skip(type)
            }
        }
    }

    private static func piece(_ bytes: [UInt8], _ range: Range<Int>) throws -> Piece {
        var reader = WireFormatReader(bytes: bytes, range: range)
        var piece = Piece(text: "", score: 0, type: .normal)
        var sawText = false
        while !reader.isAtEnd {
            let (field, type) = try reader.readTag()
            switch field {
            case 1:
                try reader.expect(type, is: .lengthDelimited, field: "SentencePiece.piece")
                piece.text = try reader.readString()
                sawText = true
            case 2:
                try reader.expect(type, is: .fixed32, field: "SentencePiece.score")
                piece.score = try reader.readFloat()
            case 3:
                try reader.expect(type, is: .varint, field: "SentencePiece.type")
                let raw = try reader.readInt32()
                guard let kind = PieceType(rawValue: raw) else {
                    throw FormatError(reason: "piece type \(raw) is not a SentencePiece.Type")
                }
                piece.type = kind
            default:
                try reader.skip(type)
            }
        }
        guard sawText, !piece.text.isEmpty else {
            throw FormatError(reason: "a piece at byte \(range.lowerBound) has no text")
        }
        return piece
    }

    private mutating func readTrainerSpec(_ bytes: [UInt8], _ range: Range<Int>) throws {
        var reader = WireFormatReader(bytes: bytes, range: range)
        while !reader.isAtEnd {
            let (field, type) = try reader.readTag()
            switch field {
            case 3:
                try reader.expect(type, is: .varint, field: "TrainerSpec.model_type")
                let raw = try reader.readInt32()
                guard let kind = ModelType(rawValue: raw) else {
                    throw FormatError(reason: "model type \(raw) is not a TrainerSpec.ModelType")
                }
                modelType = kind
            case 24:
                try reader.expect(type, is: .varint, field: "TrainerSpec.treat_whitespace_as_suffix")
                treatWhitespaceAsSuffix = try reader.readBool()
            case 35:
                try reader.expect(type, is: .varint, field: "TrainerSpec.byte_fallback")
                byteFallback = try reader.readBool()
            case 40, 41, 42, 43:
                try reader.expect(type, is: .varint, field: "TrainerSpec id \(field)")
                let id = try reader.readInt32()
                switch field {
                case 40: unkID = id
                case 41: bosID = id
                case 42: eosID = id
                default: padID = id
                }
            default:
                try reader.skip(type)
            }
        }
    }

    private mutating func readNormalizerSpec(_ bytes: [UInt8], _ range: Range<Int>) throws {
        var reader = WireFormatReader(bytes: bytes, range: range)
        while !reader.isAtEnd {
            let (field, type) = try reader.readTag()
            switch field {
            case 1:
                try reader.expect(type, is: .lengthDelimited, field: "NormalizerSpec.name")
                normalizerName = try reader.readString()
            case 2:
                try reader.expect(type, is: .lengthDelimited, field: "NormalizerSpec.precompiled_charsmap")
                precompiledCharsMap = Array(bytes[try reader.readLengthDelimited()])
            case 3, 4, 5:
                try reader.expect(type, is: .varint, field: "NormalizerSpec flag \(field)")
                let flag = try reader.readBool()
                switch field {
                case 3: addDummyPrefix = flag
                case 4: removeExtraWhitespaces = flag
                default: escapeWhitespaces = flag
                }
            default:
                try reader.skip(type)
            }
        }
    }
}
