import Foundation

/// How the learning rate moves over the steps: linear warm-up from 0, then constant or linear decay to 0.
public struct LearningRateSchedule: Equatable, Sendable {
    public enum Decay: String, Sendable, CaseIterable { case constant, linear }

    public var peak: Double
    public var warmupSteps: Int
    public var decay: Decay
    public var totalSteps: Int

    public init(peak: Double, warmupSteps: Int = 0, decay: Decay = .linear, totalSteps: Int) {
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.decay = decay
        self.totalSteps = totalSteps
    }

    /// The rate of 0-based `step`.
    public func rate(at step: Int) -> Double {
        if step < warmupSteps { return peak * Double(step + 1) / Double(warmupSteps) }
        switch decay {
        case .constant: return peak
        case .linear:
            let remaining = max(totalSteps - step, 0), span = max(totalSteps - warmupSteps, 1)
            return peak * Double(remaining) / Double(span)
        }
    }
}

/// The parameter update, applied in place over one flat parameter block and its gradient.
public enum OptimizerKind: Equatable, Sendable {
    /// W <- W - lr * g (no momentum, no weight decay).
    case sgd
    /// AdamW (decoupled weight decay, bias-corrected moments), as torch.optim.AdamW.
    case adamW(beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double)
}

public final class Optimizer {
    public let kind: OptimizerKind
    public let count: Int
    /// First and second moments (AdamW only), and the number of updates applied.
    public private(set) var m: [Float], v: [Float]
    public private(set) var updates = 0

    public init(kind: OptimizerKind, count: Int) {
        self.kind = kind
        self.count = count
        let moments = if case .adamW = kind { count } else { 0 }
        m = Array(repeating: 0, count: moments)
        v = Array(repeating: 0, count: moments)
    }

    /// Restores moments and the update count saved with a checkpoint.
    public func restore(m: [Float], v: [Float], updates: Int) {
        precondition(m.count == self.m.count && v.count == self.v.count)
        self.m = m
        self.v = v
        self.updates = updates
    }

    /// One update with learning rate `lr`.
    public func step(parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>, lr: Double) {
        precondition(parameters.count == count && gradients.count == count)
        updates += 1
        switch kind {
        case .sgd:
            let rate = Float(lr)
            for i in 0..<count { parameters[i] -= rate * gradients[i] }
        case let .adamW(beta1, beta2, epsilon, weightDecay):
            let b1 = Float(beta1), b2 = Float(beta2)
            let correction1 = Float(1 - pow(beta1, Double(updates))), correction2 = Float(1 - pow(beta2, Double(updates)))
            let rate = Float(lr), decay = Float(1 - lr * weightDecay), eps = Float(epsilon)
            m.withUnsafeMutableBufferPointer { m in
                v.withUnsafeMutableBufferPointer { v in
                    for i in 0..<count {
                        let g = gradients[i]
                        m[i] = b1 * m[i] + (1 - b1) * g
                        v[i] = b2 * v[i] + (1 - b2) * g * g
                        let update = (m[i] / correction1) / ((v[i] / correction2).squareRoot() + eps)
                        parameters[i] = parameters[i] * decay - rate * update
                    }
                }
            }
        }
    }
}

/// Scales `gradients` so their global L2 norm is at most `maxNorm` (as torch.nn.utils.clip_grad_norm_);
/// returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ gradients: UnsafeMutableBufferPointer<Float>, maxNorm: Double) -> Double {
    var sum = 0.0
    for g in gradients { sum += Double(g) * Double(g) }
    let norm = sum.squareRoot()
    if maxNorm > 0, norm > maxNorm {
        let factor = Float(maxNorm / (norm + 1e-6))
        for i in gradients.indices { gradients[i] *= factor }
    }
    return norm
}
