/// Token rows of several sequences packed one after another (no padding): sequence s occupies rows
/// offsets[s] ..< offsets[s] + lengths[s]. Row-wise work (projections, norms, activations) runs over all
/// rows at once, so each weight matrix is streamed once per pack; attention runs per sequence.
struct PackedSequences {
    let lengths: [Int]
    let offsets: [Int]
    let rows: Int
    let maxLength: Int

    init(lengths: [Int]) {
        self.lengths = lengths
        var offsets: [Int] = []
        var total = 0
        for length in lengths {
            offsets.append(total)
            total += length
        }
        self.offsets = offsets
        rows = total
        maxLength = lengths.max() ?? 0
    }
}
