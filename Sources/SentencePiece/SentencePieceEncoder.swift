/// Encoding as sentencepiece's SentencePieceProcessor does it for a unigram `spiece.model`:
/// normalise, Viterbi over the pieces, then merge runs of unknown pieces or, with byte
/// fallback, spell each unknown piece as `<0xXX>` byte pieces.
struct SentencePieceEncoder: Sendable {
    let normalizer: SentencePieceNormalizer
    /// Normal and user-defined pieces: sentencepiece never matches control, unknown or byte
    /// pieces in text and skips unused ones.
    let trie: PieceTrie
    /// Viterbi score per id (user-defined pieces carry sentencepiece's length bonus).
    let scores: [Double]
    let unknownID: Int32
    let unknownScore: Float
    /// Id of `<0xXX>` for each byte when the model has byte fallback.
    let byteIDs: [Int32]?

    init(proto: ModelProto, unknownID: Int32) throws {
        var entries: [(bytes: [UInt8], id: Int32)] = []
        var userDefined: [(bytes: [UInt8], id: Int32)] = []
        // sentencepiece starts its maximum at FLT_MIN, the smallest positive float.
        var minScore = Float.greatestFiniteMagnitude
        var maxScore = Float.leastNormalMagnitude
        for piece in proto.pieces where piece.type == .normal {
            minScore = min(minScore, piece.score)
            maxScore = max(maxScore, piece.score)
        }
        var scores = [Double](repeating: 0, count: proto.pieces.count)
        var byteIDs = [Int32](repeating: -1, count: 256)
        for (index, piece) in proto.pieces.enumerated() {
            let id = Int32(index)
            let bytes = Array(piece.text.utf8)
            switch piece.type {
            case .normal:
                entries.append((bytes, id))
                scores[index] = Double(piece.score)
            case .userDefined:
                entries.append((bytes, id))
                userDefined.append((bytes, id))
                // Always preferred: score length * max_score - 0.1, computed in double.
                scores[index] = Double(Float(bytes.count) * maxScore) - 0.1
            case .byte:
                if let byte = Self.byteValue(piece.text) { byteIDs[Int(byte)] = id }
            case .unknown, .control, .unused:
                break
            }
        }
        if proto.byteFallback, let missing = byteIDs.firstIndex(of: -1) {
            throw FormatError(reason: "byte_fallback is set but piece <0x\(String(missing, radix: 16, uppercase: true))> is missing")
        }
        var charsMap: PrecompiledCharsMap?
        if !proto.precompiledCharsMap.isEmpty {
            charsMap = try PrecompiledCharsMap(blob: proto.precompiledCharsMap)
        }
        normalizer = SentencePieceNormalizer(
            charsMap: charsMap,
            userDefined: userDefined.isEmpty ? nil : PieceTrie(entries: userDefined),
            addDummyPrefix: proto.addDummyPrefix,
            removeExtraWhitespaces: proto.removeExtraWhitespaces,
            escapeWhitespaces: proto.escapeWhitespaces)
        trie = PieceTrie(entries: entries)
        self.scores = scores
        self.unknownID = unknownID
        unknownScore = minScore - 10
        self.byteIDs = proto.byteFallback ? byteIDs : nil
    }

    /// The byte of a piece spelled `<0xXX>`.
    private static func byteValue(_ piece: String) -> UInt8? {
        let utf8 = Array(piece.utf8)
        guard utf8.count == 6, piece.hasPrefix("<0x"), piece.hasSuffix(">") else { return nil }
        return UInt8(String(decoding: utf8[3..<5], as: UTF8.self), radix: 16)
    }

    func encode(_ text: String, into ids: inout [Int32]) {
        var normalized: [UInt8] = []
        var input = text
        input.withUTF8 { bytes in
            normalized.reserveCapacity(bytes.count + bytes.count / 2 + 3)
            normalizer.normalize(bytes, into: &normalized)
        }
        var segments: [Segment] = []
        normalized.withUnsafeBufferPointer { bytes in
            unigram_viterbi(bytes, trie: trie, scores: scores,
                            unknownID: unknownID, unknownScore: unknownScore, into: &segments)
        }
        var previousWasUnknown = false
        for segment in segments {
            let isUnknown = segment.id == unknownID
            if isUnknown, let byteIDs {
                for k in segment.start..<segment.end { ids.append(byteIDs[Int(normalized[k])]) }
            } else if !(isUnknown && previousWasUnknown) {
                ids.append(segment.id)
            }
            previousWasUnknown = isUnknown
        }
    }
}
