/// Splits sequence indices into at most `count` groups of similar total length (longest first, each to the
/// currently lightest group), one group per core.
func balancedGroups(lengths: [Int], count: Int) -> [[Int]] {
    let groupCount = max(1, min(count, lengths.count))
    var groups = [[Int]](repeating: [], count: groupCount)
    var loads = [Int](repeating: 0, count: groupCount)
    for index in lengths.indices.sorted(by: { (lengths[$0], $1) > (lengths[$1], $0) }) {
        let lightest = loads.indices.min(by: { (loads[$0], $0) < (loads[$1], $1) })!
        groups[lightest].append(index)
        loads[lightest] += lengths[index]
    }
    return groups.filter { !$0.isEmpty }
}

/// Cuts a group of sequence indices into packs of at most `maxPackRows` tokens, in order; a sequence longer than
/// that forms a pack of its own.
func chunked(_ group: [Int], lengths: [Int], maxPackRows: Int) -> [[Int]] {
    var chunks: [[Int]] = []
    var current: [Int] = []
    var rows = 0
    for index in group {
        if !current.isEmpty && rows + lengths[index] > maxPackRows {
            chunks.append(current)
            current = []
            rows = 0
        }
        current.append(index)
        rows += lengths[index]
    }
    if !current.isEmpty { chunks.append(current) }
    return chunks
}
