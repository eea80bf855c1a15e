/// One piece of the best segmentation: vocabulary id (or the unknown id) over bytes start..<end.
struct Segment {
    var id: Int32
    var start: Int
    var end: Int
}

/// Byte length of the UTF-8 character whose lead byte is `byte` (1 for stray continuation
/// bytes), as sentencepiece's OneCharLen computes it.
@inline(__always)
func utf8_char_length(_ byte: UInt8) -> Int {
    if byte < 0xC0 { return 1 }
    if byte < 0xE0 { return 2 }
    if byte < 0xF0 { return 3 }
    return 4
}

/// Best segmentation of `text` under a unigram model: the Viterbi search of
/// sentencepiece's EncodeOptimized (and of `tokenizers`' encode_optimized), with the lattice
/// generated on the fly from trie matches. A character that starts no piece of exactly its own
/// length gets an unknown node scored `unknownScore`. Rounding decides near-ties on long inputs,
/// so it follows the references exactly: `Score`, the stored best-path score, is Float for
/// sentencepiece and Double for `tokenizers`; a piece's candidate is summed and compared in
/// double (sentencepiece's piece score is a double expression), an unknown candidate in `Score`.
/// On ties the earlier start wins (strictly greater replaces).
func unigram_viterbi<Score: BinaryFloatingPoint>(
    _ text: UnsafeBufferPointer<UInt8>, trie: PieceTrie, scores: [Double], unknownID: Int32, unknownScore: Score,
    into segments: inout [Segment]
) {
    let count = text.count
    guard count > 0 else { return }
    var best = [BestPath<Score>](repeating: BestPath(score: 0, start: -1, id: unknownID), count: count + 1)
    best.withUnsafeMutableBufferPointer { best in
        scores.withUnsafeBufferPointer { scores in
            var start = 0
            while start < count {
                let scoreHere = best[start].score
                let charLength = min(utf8_char_length(text[start]), count - start)
                var coversChar = false
                trie.forEachPrefix(of: text, from: start, to: count) { end, id in
                    let candidate = scores[Int(id)] + Double(scoreHere)
                    if best[end].start == -1 || candidate > Double(best[end].score) {
                        best[end] = BestPath(score: Score(candidate), start: start, id: id)
                    }
                    if end - start == charLength { coversChar = true }
                }
                if !coversChar {
                    let end = start + charLength
                    let candidate = unknownScore + scoreHere
                    if best[end].start == -1 || candidate > best[end].score {
                        best[end] = BestPath(score: candidate, start: start, id: unknownID)
                    }
                }
                start += charLength
            }
        }
    }
    let first = segments.count
    var end = count
    while end > 0 {
        let node = best[end]
        segments.append(Segment(id: node.id, start: node.start, end: end))
        end = node.start
    }
    segments[first...].reverse()
}

/// The best path ending at a position: its score, the start of its last piece (-1: the position
/// is not reached yet) and that piece's id.
private struct BestPath<Score> {
    var score: Score
    var start: Int
    var id: Int32
}
