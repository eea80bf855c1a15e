/// Encoding as the `tokenizers` library does it for a Unigram `tokenizer.json`: split the raw
/// text on added tokens (leftmost-longest), normalise each remaining segment, pre-tokenise it
/// into `▁` words, and run a Viterbi search per word with double-precision scores, fusing runs of
/// unknown pieces.
struct TokenizersEncoder: Sendable {
    let pipeline: TokenizersPipeline
    /// Every vocabulary entry, control pieces included: `tokenizers` can match them in text.
    let trie: PieceTrie
    let scores: [Double]
    let unknownID: Int32
    let unknownScore: Double
    /// Added tokens, matched verbatim in the raw text.
    let addedTokens: PieceTrie?

    init(pipeline: TokenizersPipeline, vocabulary: [(piece: String, score: Double)], unknownID: Int32,
         addedTokens: [(content: String, id: Int32)]) {
        self.pipeline = pipeline
        trie = PieceTrie(entries: vocabulary.enumerated().map { (Array($0.element.piece.utf8), Int32($0.offset)) })
        scores = vocabulary.map(\.score)
        self.unknownID = unknownID
        unknownScore = (vocabulary.map(\.score).min() ?? 0) - 10
        self.addedTokens = addedTokens.isEmpty ? nil
            : PieceTrie(entries: addedTokens.map { (Array($0.content.utf8), $0.id) })
    }

    func encode(_ text: String, into ids: inout [Int32]) {
        var copy = text
        copy.withUTF8 { bytes in
            var segmentStart = 0
            var i = 0
            while i < bytes.count {
                guard let addedTokens, let token = addedTokens.longestMatch(bytes, from: i, to: bytes.count) else {
                    i += 1
                    continue
                }
                encodeSegment(UnsafeBufferPointer(rebasing: bytes[segmentStart..<i]), isFirst: segmentStart == 0, into: &ids)
                ids.append(token.id)
                i = token.end
                segmentStart = token.end
            }
            encodeSegment(UnsafeBufferPointer(rebasing: bytes[segmentStart...]), isFirst: segmentStart == 0, into: &ids)
        }
    }

    private func encodeSegment(_ segment: UnsafeBufferPointer<UInt8>, isFirst: Bool, into ids: inout [Int32]) {
        guard !segment.isEmpty else { return }
        let normalized = pipeline.normalize(segment)
        var segments: [Segment] = []
        let (text, words) = pipeline.words(of: normalized, segmentIsFirst: isFirst)
        for word in words {
            segments.removeAll(keepingCapacity: true)
            text.withUnsafeBufferPointer { text in
                let bytes = UnsafeBufferPointer(rebasing: text[word])
                unigram_viterbi(bytes, trie: trie, scores: scores,
                                unknownID: unknownID, unknownScore: unknownScore, into: &segments)
            }
            var previousWasUnknown = false
            for piece in segments {
                let isUnknown = piece.id == unknownID
                if !(isUnknown && previousWasUnknown) { ids.append(piece.id) }
                previousWasUnknown = isUnknown
            }
        }
    }
}
