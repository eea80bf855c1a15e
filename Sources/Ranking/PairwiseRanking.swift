/// What one pairwise prompt says: passage A is more relevant, passage B is, or neither (equal logits).
public enum PairPreference: Equatable, Sendable {
    case a, b, tie

    /// The preference of two answer scores (logits or log-probabilities); -infinity means "not produced".
    public init(a: Float, b: Float) {
        if a > b { self = .a } else if b > a { self = .b } else { self = .tie }
    }
}

/// An ordered pair of candidates: `first` is shown as passage A, `second` as passage B.
public struct OrderedPair: Equatable, Hashable, Sendable {
    public let first: Int, second: Int
    public init(_ first: Int, _ second: Int) { self.first = first; self.second = second }
}

/// How the teacher turns pairwise prompts into a ranking (pairwise ranking prompting, PRP).
public enum PairwiseMethod: Equatable, Sendable {
    /// Every ordered pair i != j, n(n-1) prompts; candidates sorted by wins.
    case allPairs
    /// `passes` bubble passes from the bottom of the first-stage order, each comparing neighbours in both
    /// orders and swapping only when both prefer the lower one: at most 2(n-1) prompts per pass.
    case sliding(passes: Int)
}

/// The teacher's verdict on one query's candidates, which are indexed in first-stage order.
public struct PairwiseOutcome: Equatable, Sendable {
    /// Prompts won per candidate: 1 per preferred appearance, 0.5 each on an exact tie.
    public var wins: [Double]
    /// Candidate indices, best first.
    public var ranking: [Int]
    /// Prompts asked.
    public var prompts: Int

    /// Runs `method` over `count` candidates; `judge` answers a batch of ordered pairs, one preference each.
    public static func rank(count: Int, method: PairwiseMethod,
                            judge: ([OrderedPair]) throws -> [PairPreference]) throws -> PairwiseOutcome {
        var outcome = PairwiseOutcome(wins: Array(repeating: 0, count: count), ranking: Array(0..<count), prompts: 0)
        func ask(_ pairs: [OrderedPair]) throws -> [PairPreference] {
            let answers = try judge(pairs)
            precondition(answers.count == pairs.count, "a judge answers every pair it is given")
            for (pair, answer) in zip(pairs, answers) {
                switch answer {
                case .a: outcome.wins[pair.first] += 1
                case .b: outcome.wins[pair.second] += 1
                case .tie: outcome.wins[pair.first] += 0.5; outcome.wins[pair.second] += 0.5
                }
            }
            outcome.prompts += pairs.count
            return answers
        }
        switch method {
        case .allPairs:
            _ = try ask(allOrderedPairs(count))
            // The reference code's tie-break: the earlier first-stage position wins equal counts.
            let keyed = (0..<count).map { (index: $0, key: outcome.wins[$0] + 1 / (10 + Double($0))) }
            outcome.ranking = keyed.sorted { $0.key > $1.key }.map(\.index)
        case let .sliding(passes):
            var order = Array(0..<count)
            for pass in 0..<min(passes, max(count - 1, 0)) {
                for position in stride(from: count - 2, through: pass, by: -1) {
                    let upper = order[position], lower = order[position + 1]
                    let answers = try ask([OrderedPair(upper, lower), OrderedPair(lower, upper)])
                    if answers == [.b, .a] { order.swapAt(position, position + 1) }
                }
            }
            outcome.ranking = order
        }
        return outcome
    }

    /// (0,1), (0,2), ..., (1,0), (1,2), ...: every ordered pair of distinct indices, first index major.
    public static func allOrderedPairs(_ count: Int) -> [OrderedPair] {
        (0..<count).flatMap { i in (0..<count).filter { $0 != i }.map { OrderedPair(i, $0) } }
    }
}
