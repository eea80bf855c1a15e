/// Why a tokenizer file could not be loaded.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case malformed(path: String, reason: String)
    case unsupported(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "cannot read tokenizer file \(path): \(reason)"
        case let .malformed(path, reason): return "malformed tokenizer file \(path): \(reason)"
        case let .unsupported(path, reason): return "unsupported tokenizer in \(path): \(reason)"
        }
    }
}

/// A file's bytes do not decode as the format they claim; the public initialisers turn it into
/// `TokenizerError.malformed` with the path.
struct FormatError: Error {
    let reason: String
}

/// A well-formed file asks for something this module does not reproduce; becomes
/// `TokenizerError.unsupported` with the path.
struct UnsupportedFeature: Error {
    let reason: String
}
