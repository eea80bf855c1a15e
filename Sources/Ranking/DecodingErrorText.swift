import Foundation

/// A JSON decoding error as one readable line: where in the document, and what was wrong.
public func readableDescription(of error: Error) -> String {
    guard let error = error as? DecodingError else { return "\(error)" }
    func path(_ context: DecodingError.Context) -> String {
        let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
        return keys.isEmpty ? "" : "at \(keys.joined(separator: ".")): "
    }
    switch error {
    case let .dataCorrupted(context) where context.codingPath.isEmpty:
        return "not valid JSON"
    case let .typeMismatch(_, context), let .valueNotFound(_, context), let .dataCorrupted(context):
        return path(context) + context.debugDescription
    case let .keyNotFound(key, context):
        return path(context) + "missing key \"\(key.stringValue)\""
    @unknown default:
        return "\(error)"
    }
}
