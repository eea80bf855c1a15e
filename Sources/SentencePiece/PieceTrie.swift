/// A byte trie over vocabulary pieces, flattened into arrays so that the Viterbi search walks
/// UTF-8 bytes without hashing or allocating. Children of a node are stored sorted by label.
struct PieceTrie: Sendable {
    /// Child of the root for each first byte (-1: none); the root is the widest node by far.
    private var rootChildren: [Int32]
    /// Node n's children are edges edgeStart[n]..<edgeStart[n + 1].
    private var edgeStart: [Int32]
    private var edgeLabel: [UInt8]
    private var edgeTarget: [Int32]
    /// Piece id ending at each node, or -1.
    private var nodeValue: [Int32]

    /// Builds the trie; when two entries share bytes, the later one wins.
    init(entries: [(bytes: [UInt8], id: Int32)]) {
        var children: [[(UInt8, Int32)]] = [[]]
        var values: [Int32] = [-1]
        for entry in entries {
            var node = 0
            for byte in entry.bytes {
                if let child = children[node].first(where: { $0.0 == byte }) {
                    node = Int(child.1)
                } else {
                    let child = Int32(children.count)
                    children.append([])
                    values.append(-1)
                    children[node].append((byte, child))
                    node = Int(child)
                }
            }
            values[node] = entry.id
        }
        var start: [Int32] = [0]
        var labels: [UInt8] = []
        var targets: [Int32] = []
        for node in children.indices {
            for (label, target) in children[node].sorted(by: { $0.0 < $1.0 }) {
                labels.append(label)
                targets.append(target)
            }
            start.append(Int32(labels.count))
        }
        var root = [Int32](repeating: -1, count: 256)
        for (label, target) in children[0] { root[Int(label)] = target }
        rootChildren = root
        edgeStart = start
        edgeLabel = labels
        edgeTarget = targets
        nodeValue = values
    }

    /// Visits each piece that is a prefix of `bytes[start..<end]`, shortest first, as
    /// (end position, id).
    @inline(__always)
    func forEachPrefix(of bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int, _ visit: (_ end: Int, _ id: Int32) -> Void) {
        guard start < end else { return }
        var node = Int(rootChildren[Int(bytes[start])])
        var i = start + 1
        edgeStart.withUnsafeBufferPointer { edgeStart in
            edgeLabel.withUnsafeBufferPointer { edgeLabel in
                edgeTarget.withUnsafeBufferPointer { edgeTarget in
                    nodeValue.withUnsafeBufferPointer { nodeValue in
                        while node >= 0 {
                            let id = nodeValue[node]
                            if id >= 0 { visit(i, id) }
                            guard i < end else { return }
                            let byte = bytes[i]
                            var lo = Int(edgeStart[node])
                            var hi = Int(edgeStart[node + 1])
                            node = -1
                            while lo < hi {
                                let mid = (lo + hi) >> 1
                                let label = edgeLabel[mid]
                                if label == byte { node = Int(edgeTarget[mid]); break }
                                if label < byte { lo = mid + 1 } else { hi = mid }
                            }
                            i += 1
                        }
                    }
                }
            }
        }
    }

    /// The longest piece starting at `start`, as (end position, id), or nil.
    func longestMatch(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> (end: Int, id: Int32)? {
        var longest: (end: Int, id: Int32)?
        forEachPrefix(of: bytes, from: start, to: end) { matchEnd, id in longest = (matchEnd, id) }
        return longest
    }
}
