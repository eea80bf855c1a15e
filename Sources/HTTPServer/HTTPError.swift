/// A request the server refuses: the status to answer with, and why (for the log line).
struct HTTPError: Error, Equatable {
    let status: Int
    let reason: String

    init(_ status: Int, _ reason: String) {
        self.status = status
        self.reason = reason
    }
}
