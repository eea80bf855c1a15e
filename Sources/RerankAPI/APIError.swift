import RerankService

/// An error as the API reports it: an HTTP status and the TEI-style body
/// `{"error": str, "error_type": str}`.
public struct APIError: Error, Equatable, CustomStringConvertible {
    public let status: Int
    public let type: String
    public let message: String
    /// Seconds for the `Retry-After` header of a 429/503.
    public var retryAfter: Int? = nil

    public var description: String { message }

    static func validation(_ message: String) -> APIError { APIError(status: 422, type: "Validation", message: message) }
    static func empty(_ message: String) -> APIError { APIError(status: 400, type: "Empty", message: message) }
    static func badRequest(_ message: String) -> APIError { APIError(status: 400, type: "Validation", message: message) }
    static func unauthorized(_ message: String) -> APIError { APIError(status: 401, type: "Unauthorized", message: message) }
    static func notFound(_ message: String) -> APIError { APIError(status: 404, type: "NotFound", message: message) }
    static func methodNotAllowed(_ message: String) -> APIError { APIError(status: 405, type: "Validation", message: message) }
    static func backend(_ message: String) -> APIError { APIError(status: 500, type: "Backend", message: message) }

    init(status: Int, type: String, message: String, retryAfter: Int? = nil) {
        self.status = status
        self.type = type
        self.message = message
        self.retryAfter = retryAfter
    }

    init(_ error: RerankError) {
        switch error {
        case let .empty(message): self = .empty(message)
        case let .validation(message): self = .validation(message)
        case let .overloaded(seconds):
            self.init(status: 429, type: "Overloaded", message: error.description, retryAfter: seconds)
        case let .unavailable(message): self.init(status: 503, type: "Unhealthy", message: message, retryAfter: 1)
        case .timedOut: self.init(status: 503, type: "Overloaded", message: error.description, retryAfter: 1)
        case .cancelled: self.init(status: 499, type: "Cancelled", message: error.description)
        case let .backend(message): self = .backend(message)
        }
    }
}
