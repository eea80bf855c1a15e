/// Piece strings by id and ids by piece string.
struct Vocabulary: Sendable {
    /// Piece of each id; nil for ids that no piece uses.
    let pieces: [String?]
    private let ids: [String: Int32]

    /// `pieces` take ids 0..<count; `extra` entries (added tokens) take their own ids and win
    /// over a vocabulary piece with the same text.
    init(pieces: [String], extra: [(content: String, id: Int32)] = []) {
        let count = max(pieces.count, (extra.map { Int($0.id) }.max() ?? -1) + 1)
        var table = [String?](repeating: nil, count: count)
        var ids: [String: Int32] = [:]
        ids.reserveCapacity(count)
        for (id, piece) in pieces.enumerated() {
            table[id] = piece
            if ids[piece] == nil { ids[piece] = Int32(id) }
        }
        for token in extra {
            table[Int(token.id)] = token.content
            ids[token.content] = token.id
        }
        self.pieces = table
        self.ids = ids
    }

    func id(of piece: String) -> Int32? { ids[piece] }

    func piece(of id: Int32) -> String? {
        guard id >= 0, Int(id) < pieces.count else { return nil }
        return pieces[Int(id)]
    }
}
