/// Kendall's tau-b between two scorings of the same items (scipy.stats.kendalltau's default): ties in
/// either scoring are allowed and corrected for. nil when either scoring is constant or there are fewer
/// than two items, where tau is undefined.
public func kendallTauB(_ x: [Double], _ y: [Double]) -> Double? {
    precondition(x.count == y.count, "two scorings of the same items")
    var concordant = 0, discordant = 0, tiedX = 0, tiedY = 0, pairs = 0
    for i in x.indices {
        for j in x.indices where j > i {
            pairs += 1
            let dx = x[i] - x[j], dy = y[i] - y[j]
            if dx == 0 { tiedX += 1 }
            if dy == 0 { tiedY += 1 }
            if dx == 0 || dy == 0 { continue }
            if (dx > 0) == (dy > 0) { concordant += 1 } else { discordant += 1 }
        }
    }
    let denominator = (Double(pairs - tiedX) * Double(pairs - tiedY)).squareRoot()
    guard denominator > 0 else { return nil }
    return Double(concordant - discordant) / denominator
}

/// Per query, tau-b between a reference ranking (a teacher's, best first) and a run's scores, over the
/// reference's documents that the run scored. Queries without a defined tau are left out.
public func kendallTauPerQuery(run: TRECRun, reference: [String: [String]]) -> [String: Double] {
    var taus: [String: Double] = [:]
    for (qid, ranking) in reference {
        guard let scores = run.scores[qid] else { continue }
        let shared = ranking.filter { scores[$0] != nil }
        let positions = shared.indices.map { -Double($0) }
        if let tau = kendallTauB(positions, shared.map { scores[$0]! }) { taus[qid] = tau }
    }
    return taus
}
