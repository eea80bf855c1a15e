/// A request the server refuses: the status to answer with, and why (for the log line).
struct HTTPError: Error, Equatable {
    let status: Int
    let reason: String
    /// The request target, when the request line was read before the error.
    var target: String? = nil

    init(_ status: Int, _ reason: String, target: String? = nil) {
        self.status = status
        self.reason = reason
        self.target = target
    }
}
