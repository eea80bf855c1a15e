import Foundation

/// One query with its documents and the raw scores `transformers` computed for one template.
public struct ScoredExample: Decodable, Sendable {
    public let template: String
    public let query: String
    public let documents: [String]
    /// Prompt token ids from `sentencepiece` (with eos), one per document.
    public let ids: [[Int32]]
    public let scores: [Double]
}

/// A checkpoint directory (model and tokenizer) and its reference scores for every preset template.
public struct ParityCheckpoint: Sendable {
    public let name: String
    public let directory: URL
    public let examples: [ScoredExample]
}

/// The scoring fixtures of Scripts/fixtures/make_random_model.py (transformers 4.46) and
/// make_transformers5_fixtures.py (transformers 5.23), shared by the test targets.
public enum ParityFixtures {
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// (name, checkpoint, expected scores), relative to the repository root.
    static let catalogue = [
        ("random, written by transformers 4.46 (separate lm_head)", "Tests/Fixtures/ranking/random_v4",
         "Tests/Fixtures/ranking/random_v4/expected_scores.jsonl"),
        ("random re-saved by transformers 5.23 (lm_head stored, tie flag true, not scaled)",
         "Tests/Fixtures/ranking/random_v5_resaved", "Tests/Fixtures/ranking/random_v5_resaved/expected_scores.jsonl"),
        ("fresh transformers 5.23 model, tie_word_embeddings=False (shared table only, not scaled)",
         "Tests/Fixtures/ranking/random_v5_fresh", "Tests/Fixtures/ranking/random_v5_fresh/expected_scores.jsonl"),
    ]

    public static func checkpoints() throws -> [ParityCheckpoint] {
        try catalogue.map { name, directory, expected in
            let text = try String(contentsOf: root.appendingPathComponent(expected), encoding: .utf8)
            let examples = try text.split(separator: "\n").map {
                try JSONDecoder().decode(ScoredExample.self, from: Data($0.utf8))
            }
            return ParityCheckpoint(name: name, directory: root.appendingPathComponent(directory), examples: examples)
        }
    }
}

/// The comparisons every parity test makes, kept here so a test can show they reject wrong scorers.
public enum ScoreComparison {
    /// Raw scores agree to 1e-4 relative (absolute below 1 in magnitude).
    public static let tolerance = 1e-4

    /// One line for each score outside the tolerance; empty when all agree.
    public static func mismatches(_ actual: [Double], _ expected: [Double], tolerance: Double = tolerance) -> [String] {
        guard actual.count == expected.count else { return ["\(actual.count) scores, expected \(expected.count)"] }
        return zip(actual, expected).enumerated().compactMap { index, pair in
            abs(pair.0 - pair.1) <= tolerance * max(1, abs(pair.1))
                ? nil : "document \(index): got \(pair.0), expected \(pair.1)"
        }
    }

    /// Why a fixture could not catch a constant or permuted scorer: scores (raw, or as probabilities)
    /// closer together than 10x the tolerance, or probabilities all saturated at 0 or 1. Empty when
    /// every pair differs clearly, so any constant or reordered result is a mismatch.
    public static func weaknesses(rawScores: [Double], probabilities: [Double]) -> [String] {
        var found: [String] = []
        for i in rawScores.indices {
            for j in rawScores.indices where j > i {
                if abs(rawScores[i] - rawScores[j]) < 10 * tolerance * max(1, abs(rawScores[i])) {
                    found.append("raw scores of documents \(i) and \(j) are nearly equal")
                }
                if abs(probabilities[i] - probabilities[j]) < 10 * tolerance {
                    found.append("probabilities of documents \(i) and \(j) are nearly equal")
                }
            }
        }
        if !probabilities.contains(where: { (0.02...0.98).contains($0) }) {
            found.append("every probability is saturated at 0 or 1")
        }
        return found
    }
}

/// One query of the pairwise teacher fixture (Tests/Fixtures/teacher, make_teacher_fixtures.py): the prompt
/// ids and [▁A, ▁B] logits transformers 5 computed for every ordered pair, and the wins and rankings.
public struct TeacherExample: Decodable, Sendable {
    public struct Verdict: Decodable, Sendable {
        public let wins: [Double]
        public let ranking: [String]
    }

    public let qid: String
    public let docids: [String]
    public let pairs: [[Int]]
    public let ids: [[Int32]]
    public let logits: [[Double]]
    public let wins: [Double]
    public let ranking: [String]
    public let sliding1: Verdict
    public let sliding2: Verdict

    public static let directory = ParityFixtures.root.appendingPathComponent("Tests/Fixtures/teacher")
    public static let model = directory.appendingPathComponent("model", isDirectory: true)
    public static let input = directory.appendingPathComponent("input.jsonl")

    public static func all() throws -> [TeacherExample] {
        try String(contentsOf: directory.appendingPathComponent("expected.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try JSONDecoder().decode(TeacherExample.self, from: Data($0.utf8)) }
    }

    /// The input line of this query.
    public struct Input: Decodable, Sendable {
        public let qid: String?
        public let query: String
        public let documents: [String]
    }

    public static func inputs() throws -> [Input] {
        try String(contentsOf: input, encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(Input.self, from: Data($0.utf8)) }
    }
}
