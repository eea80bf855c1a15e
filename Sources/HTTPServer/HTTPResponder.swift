import Foundation

/// Completes one request. `respond` may be called once, from any thread, at any later time; the
/// handler may also learn that the client went away (`isCancelled`, `onCancel`) and drop its work.
public final class HTTPResponder: @unchecked Sendable {
    private let lock = NSLock()
    private var responded = false
    private var cancelled = false
    private var cancelHandlers: [@Sendable () -> Void] = []
    /// Set while the handler runs on the connection's queue, so a synchronous `respond` skips a queue hop.
    private var inlineThread: pthread_t?
    private var inlineResponse: HTTPResponse?
    private let deliver: @Sendable (HTTPResponse) -> Void

    init(deliver: @escaping @Sendable (HTTPResponse) -> Void) {
        self.deliver = deliver
    }

    /// Sends the response. Later calls, and calls after cancellation, are ignored.
    public func respond(_ response: HTTPResponse) {
        lock.lock()
        if responded || cancelled {
            lock.unlock()
            return
        }
        responded = true
        cancelHandlers = []
        if let thread = inlineThread, pthread_equal(thread, pthread_self()) != 0 {
            inlineResponse = response
            lock.unlock()
            return
        }
        lock.unlock()
        deliver(response)
    }

    /// True once the client has gone away (connection closed, stream reset, server forced down).
    public var isCancelled: Bool {
        lock.lock()
        defer { lock.unlock() }
        return cancelled
    }

    /// Runs `body` once when the request is cancelled (at once if it already is). Never runs after a
    /// response was sent.
    public func onCancel(_ body: @escaping @Sendable () -> Void) {
        lock.lock()
        if cancelled {
            lock.unlock()
            body()
            return
        }
        if !responded { cancelHandlers.append(body) }
        lock.unlock()
    }

    /// Calls the handler on the current thread; returns the response if it answered synchronously.
    func run(_ handler: HTTPHandler, _ request: HTTPRequest) -> HTTPResponse? {
        lock.lock()
        inlineThread = pthread_self()
        lock.unlock()
        handler(request, self)
        lock.lock()
        inlineThread = nil
        let response = inlineResponse
        inlineResponse = nil
        lock.unlock()
        return response
    }

    func cancel() {
        lock.lock()
        if responded || cancelled {
            lock.unlock()
            return
        }
        cancelled = true
        let handlers = cancelHandlers
        cancelHandlers = []
        lock.unlock()
        for body in handlers { body() }
    }
}

/// A request handler: answers through the responder, now or later, from any thread.
public typealias HTTPHandler = @Sendable (HTTPRequest, HTTPResponder) -> Void
