/// Why a checkpoint directory could not be loaded. Every case names the file (and tensor) at fault.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    case missingFile(path: String, reason: String)
    case malformed(path: String, reason: String)
    case missingTensor(path: String, tensor: String)
    case wrongShape(path: String, tensor: String, expected: [Int], found: [Int])
    case unsupportedDType(path: String, tensor: String, dtype: String)
    case invalidConfig(path: String, reason: String)
    case nonFiniteWeight(path: String, tensor: String, index: Int)
    case tooLarge(path: String, reason: String)

    public var description: String {
        switch self {
        case let .missingFile(path, reason): return "\(path): \(reason)"
        case let .malformed(path, reason): return "\(path): malformed: \(reason)"
        case let .missingTensor(path, tensor): return "\(path): missing tensor '\(tensor)'"
        case let .wrongShape(path, tensor, expected, found):
            return "\(path): tensor '\(tensor)' has shape \(found), expected \(expected)"
        case let .unsupportedDType(path, tensor, dtype):
            return "\(path): tensor '\(tensor)' has unsupported dtype \(dtype) (F32, F16, BF16 are supported)"
        case let .invalidConfig(path, reason): return "\(path): invalid config: \(reason)"
        case let .nonFiniteWeight(path, tensor, index):
            return "\(path): tensor '\(tensor)' holds a NaN or infinite value at element \(index)"
        case let .tooLarge(path, reason): return "\(path): too large: \(reason)"
        }
    }
}
