import Foundation
import Synchronization

/// Completes one request. `respond` may be called once, from any thread, at any later time; the
/// handler may also learn that the client went away (`isCancelled`, `onCancel`) and drop its work.
public final class HTTPResponder: Sendable {
    private struct State {
        var responded = false
        var cancelled = false
        var cancelHandlers: [@Sendable () -> Void] = []
        /// Set while the handler runs on the connection's queue, so a synchronous `respond` skips a queue hop.
        var inlineThread: pthread_t?
        var inlineResponse: HTTPResponse?
    }

    private let state = Mutex(State())
    private let deliver: @Sendable (HTTPResponse) -> Void

    init(deliver: @escaping @Sendable (HTTPResponse) -> Void) {
        self.deliver = deliver
    }

    /// Sends the response. Later calls, and calls after cancellation, are ignored.
    public func respond(_ response: HTTPResponse) {
        let deliverNow = state.withLock { state -> Bool in
            if state.responded || state.cancelled { return false }
            state.responded = true
            state.cancelHandlers = []
            if let thread = state.inlineThread, pthread_equal(thread, pthread_self()) != 0 {
                state.inlineResponse = response
                return false
            }
            return true
        }
        if deliverNow { deliver(response) }
    }

    /// True once the client has gone away (connection closed, stream reset, server forced down).
    public var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// Runs `body` once when the request is cancelled (at once if it already is). Never runs after a
    /// response was sent.
    public func onCancel(_ body: @escaping @Sendable () -> Void) {
        let runNow = state.withLock { state -> Bool in
            if state.cancelled { return true }
            if !state.responded { state.cancelHandlers.append(body) }
            return false
        }
        if runNow { body() }
    }

    /// Calls the handler on the current thread; returns the response if it answered synchronously.
    func run(_ handler: HTTPHandler, _ request: HTTPRequest) -> HTTPResponse? {
        state.withLock { $0.inlineThread = pthread_self() }
        handler(request, self)
        return state.withLock { state in
            state.inlineThread = nil
            defer { state.inlineResponse = nil }
            return state.inlineResponse
        }
    }

    func cancel() {
        let handlers = state.withLock { state -> [@Sendable () -> Void] in
            if state.responded || state.cancelled { return [] }
            state.cancelled = true
            defer { state.cancelHandlers = [] }
            return state.cancelHandlers
        }
        for body in handlers { body() }
    }
}

/// A request handler: answers through the responder, now or later, from any thread.
public typealias HTTPHandler = @Sendable (HTTPRequest, HTTPResponder) -> Void
