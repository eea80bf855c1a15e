import Foundation
import Ranking

/// A loaded, validated model with what `/info` reports about it.
public final class ActiveModel: Sendable {
    public let scorer: PointwiseScorer
    public let directory: String
    /// SHA-256 of the weight files, in file-name order, hex.
    public let weightsSHA256: String
    public let loadedAt: Date
    public let loadSeconds: Double

    /// The checkpoint's directory name, reported as the model name.
    public var name: String { URL(fileURLWithPath: directory).lastPathComponent }

    public init(scorer: PointwiseScorer, directory: String, weightsSHA256: String, loadedAt: Date, loadSeconds: Double) {
        self.scorer = scorer
        self.directory = directory
        self.weightsSHA256 = weightsSHA256
        self.loadedAt = loadedAt
        self.loadSeconds = loadSeconds
    }
}
