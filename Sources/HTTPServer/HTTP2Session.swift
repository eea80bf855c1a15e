import CNGHTTP2
import Dispatch

/// HTTP/2 (RFC 9113) on a connection through an nghttp2 server session: requests are collected per
/// stream, handed to the handler when the stream's request ends, and answered on any thread.
final class HTTP2Session: ConnectionSession {
    /// Unchecked Sendable: confined to the connection's queue like the session (responders capture it
    /// only to compare identity after hopping onto that queue).
    final class Stream: @unchecked Sendable {
        let id: Int32
        var headers = HTTPHeaders()
        var method = ""
        var path = ""
        var authority: String?
        var headerBytes = 0
        var body: [UInt8] = []
        /// Set when the request broke a limit; it is answered with this status and not dispatched.
        var rejected: Int?
        var rejectedReason = ""
        var responder: HTTPResponder?
        var acceptsGzip = false
        var responseBody: [UInt8] = []
        var responseOffset = 0
        /// Body bytes counted against the connection's and the server's body budgets.
        var budgetedBodyBytes = 0
        /// When the request last moved (HEADERS or DATA on this stream), uptime nanoseconds.
        var lastProgress = DispatchTime.now().uptimeNanoseconds
        var receiving: Bool { responder == nil && rejected == nil }
        var sendingBody: Bool { responseOffset < responseBody.count }

        init(id: Int32) {
            self.id = id
        }
    }

    private unowned let connection: Connection
    private var session: OpaquePointer?
    private(set) var streams: [Int32: Stream] = [:]
    /// Request body bytes buffered by this connection's streams still receiving.
    private var bufferedBodyBytes = 0
    /// Set when response body bytes were handed to the socket (the send-stall deadline's progress).
    private var responseProgress = false
    /// Requests completed during one read, run once the whole read is processed: a stream reset in the
    /// same read (rapid reset) is then never handed to the handler.
    private var ready: [(Stream, HTTPRequest)] = []

    init(connection: Connection) {
        self.connection = connection
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        defer { nghttp2_session_callbacks_del(callbacks) }
        HTTP2Callbacks.install(callbacks)
        let limits = connection.configuration.limits
        var option: OpaquePointer?
        nghttp2_option_new(&option)
        defer { nghttp2_option_del(option) }
        // Bounded HPACK state, and the library's defences against rapid reset (CVE-2023-44487),
        // CONTINUATION floods (CVE-2024-28182) and SETTINGS floods.
        nghttp2_option_set_max_deflate_dynamic_table_size(option, 4096)
        nghttp2_option_set_stream_reset_rate_limit(option, UInt64(limits.streamResetBurst),
                                                   UInt64(limits.streamResetRatePerSecond))
        nghttp2_option_set_max_continuations(option, 8)
        nghttp2_option_set_max_settings(option, 32)
        nghttp2_session_server_new2(&session, callbacks, Unmanaged.passUnretained(self).toOpaque(), option)
    }

    deinit {
        nghttp2_session_del(session)
    }

    static func from(_ userData: UnsafeMutableRawPointer?) -> HTTP2Session {
        Unmanaged<HTTP2Session>.fromOpaque(userData!).takeUnretainedValue()
    }

    /// Sends the server SETTINGS; for `Upgrade: h2c` also opens stream 1 with the upgraded request.
    func start(upgrade: (settings: [UInt8], request: HTTPRequest)?) {
        let limits = connection.configuration.limits
        var settings = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue),
                                   value: UInt32(limits.maxConcurrentStreams)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue),
                                   value: UInt32(limits.maxHeaderBytes)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
                                   value: UInt32(1 << 20)),
        ]
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count)
        if let upgrade {
            let isHEAD: Int32 = upgrade.request.method == "HEAD" ? 1 : 0
            let rc = upgrade.settings.withUnsafeBufferPointer {
                nghttp2_session_upgrade2(session, $0.baseAddress, $0.count, isHEAD, nil)
            }
            if rc != 0 {
                connection.logger.notice("h2c upgrade with invalid HTTP2-Settings: closing", metadata: ["fd": "\(connection.fd)"])
                connection.close()
                return
            }
            let stream = Stream(id: 1)
            stream.method = upgrade.request.method
            stream.acceptsGzip = ContentCoding.acceptsGzip(upgrade.request.headers.values("accept-encoding"))
            streams[1] = stream
            run(stream, upgrade.request)
        }
        process()
    }

    // MARK: ConnectionSession

    func process() {
        let consumed = connection.inbound.withUnsafeBufferPointer {
            nghttp2_session_mem_recv(session, $0.baseAddress! + connection.inboundStart,
                                     $0.count - connection.inboundStart)
        }
        if consumed < 0 {
            connection.logger.notice("HTTP/2 protocol error: \(String(cString: nghttp2_strerror(Int32(consumed))))",
                                     metadata: ["fd": "\(connection.fd)"])
            pump()
            connection.closeWhenDrained = true
            return
        }
        connection.inboundStart = connection.inbound.count
        connection.compactInbound()
        runReady()
        pump()
    }

    private func runReady() {
        let completed = ready
        ready = []
        for (stream, request) in completed where streams[stream.id] === stream {
            run(stream, request)
        }
    }

    /// Idle with no streams; while requests are still arriving, the body timeout of the stream that moved
    /// least recently (only its own HEADERS and DATA count, so neither PINGs nor other streams keep a
    /// stalled body alive); otherwise none, as the handlers are working. Apart from that, while
    /// response bodies wait to be sent, the send-stall timeout, refreshed only by body bytes handed to the
    /// socket: a peer that never opens its window, or reads slower than 256 kB per write timeout, is cut off
    /// however busy the rest of the connection is.
    private func updateReadDeadline() {
        defer { responseProgress = false }
        if streams.isEmpty {
            connection.setReadDeadline(.idle)
        } else if let oldest = streams.values.lazy.filter(\.receiving).map(\.lastProgress).min() {
            connection.setReadDeadline(.body, at: oldest + connection.configuration.timeouts.body.nanoseconds)
        } else {
            connection.setReadDeadline(.none)
        }
        connection.setSendStall(streams.values.contains(where: \.sendingBody), progress: responseProgress)
    }

    func writesDrained() {
        pump()
        if connection.hasPendingOutput {
            connection.flush()
        } else if nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0 {
            connection.lingeringClose()
        }
    }

    func readTimedOut(_ kind: Connection.ReadDeadline) {
        switch kind {
        case .body:
            // Streams whose body stalled are reset; when that is every stream still arriving, the whole
            // connection is (a client that only trickles is a slowloris).
            let now = DispatchTime.now().uptimeNanoseconds, timeout = connection.configuration.timeouts.body.nanoseconds
            let receiving = streams.values.filter(\.receiving)
            let stalled = receiving.filter { $0.lastProgress + timeout <= now }
            if stalled.count < receiving.count {
                for stream in stalled {
                    connection.logger.notice("HTTP/2 request body timed out: resetting the stream",
                                             metadata: ["fd": "\(connection.fd)", "stream": "\(stream.id)"])
                    reject(stream, 408, "request body timed out")
                    nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream.id, NGHTTP2_CANCEL.rawValue)
                }
                pump()
                return
            }
            connection.logger.notice("HTTP/2 request body timed out", metadata: ["fd": "\(connection.fd)"])
            nghttp2_session_terminate_session(session, NGHTTP2_NO_ERROR.rawValue)
            pump()
            connection.closeWhenDrained = true
        case .idle:
            nghttp2_session_terminate_session(session, NGHTTP2_NO_ERROR.rawValue)
            pump()
            connection.closeWhenDrained = true
        case .sendWindow:
            // The peer holds responses hostage by never opening its window: drop them and the connection.
            connection.logger.notice("HTTP/2 flow-control window stalled: closing", metadata: ["fd": "\(connection.fd)"])
            cancelAll()
            nghttp2_session_terminate_session(session, NGHTTP2_FLOW_CONTROL_ERROR.rawValue)
            pump()
            connection.closeWhenDrained = true
        case .none, .head, .linger:
            break
        }
    }

    func peerClosed() {
        connection.close()
    }

    func beginShutdown() {
        nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue),
                              nghttp2_session_get_last_proc_stream_id(session), NGHTTP2_NO_ERROR.rawValue, nil, 0)
        pump()
    }

    func cancelAll() {
        let open = streams.values
        streams = [:]
        ready = []
        for stream in open {
            releaseBody(stream)
            stream.responder?.cancel()
        }
    }

    /// Moves frames nghttp2 has ready into the connection's buffer, bounded so big bodies stream.
    private func pump() {
        while connection.queuedOutputBytes < 256 * 1024 {
            var data: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &data)
            if n < 0 {
                connection.close()
                return
            }
            if n == 0 { break }
            connection.enqueue(UnsafeRawBufferPointer(start: data, count: n))
        }
        updateReadDeadline()
    }

    // MARK: Streams (called from the nghttp2 callbacks)

    func beginStream(_ id: Int32) {
        streams[id] = Stream(id: id)
    }

    func header(_ id: Int32, name: String, value: String, size: Int) {
        guard let stream = streams[id], stream.rejected == nil else { return }
        let limits = connection.configuration.limits
        stream.headerBytes += size
        if stream.headerBytes > limits.maxHeaderBytes || stream.headers.count >= limits.maxHeaderCount {
            reject(stream, 431, "request headers over the limit")
            return
        }
        switch name {
        case ":method": stream.method = value
        case ":path": stream.path = value
        case ":authority": stream.authority = value
        case ":scheme": break
        default: stream.headers.appendLowercased(name, value)
        }
    }

    func data(_ id: Int32, _ bytes: UnsafeBufferPointer<UInt8>) {
        guard let stream = streams[id], stream.rejected == nil else { return }
        stream.lastProgress = DispatchTime.now().uptimeNanoseconds
        let limits = connection.configuration.limits
        if stream.body.count + bytes.count > limits.maxBodyBytes {
            reject(stream, 413, "request body over the body limit")
            submit(stream, connection.server.refusal(413, "request body over the body limit", stream.path))
            return
        }
        guard bufferedBodyBytes + bytes.count <= limits.maxConnectionBodyBytes,
              connection.server.bodyBudget.take(bytes.count) else {
            let reason = "request bodies in flight over the connection's or the server's budget"
            reject(stream, 503, reason)
            submit(stream, connection.server.refusal(503, reason, stream.path))
            return
        }
        bufferedBodyBytes += bytes.count
        stream.budgetedBodyBytes += bytes.count
        stream.body.append(contentsOf: bytes)
    }

    /// Returns a stream's buffered body bytes to the budgets (its body was handed off or dropped).
    private func releaseBody(_ stream: Stream) {
        guard stream.budgetedBodyBytes > 0 else { return }
        bufferedBodyBytes -= stream.budgetedBodyBytes
        connection.server.bodyBudget.release(stream.budgetedBodyBytes)
        stream.budgetedBodyBytes = 0
    }

    /// The request on `id` is complete (END_STREAM seen).
    func requestEnded(_ id: Int32) {
        guard let stream = streams[id], stream.responder == nil else { return }
        if let status = stream.rejected {
            if status != 413 && status != 503 {
                submit(stream, connection.server.refusal(status, stream.rejectedReason, stream.path))
            }
            return
        }
        if stream.authority != nil && stream.headers["host"] == nil { stream.headers.add("host", stream.authority!) }
        var request = HTTPRequest(method: stream.method, target: stream.path, version: .http2,
                                  headers: stream.headers, body: stream.body)
        stream.body = []
        releaseBody(stream)
        stream.acceptsGzip = ContentCoding.acceptsGzip(request.headers.values("accept-encoding"))
        if let coding = request.headers["content-encoding"] {
            do {
                request.body = try ContentCoding.decode(request.body, coding: coding,
                                                        maxOutput: connection.configuration.limits.maxDecodedBodyBytes)
                request.headers.remove("content-encoding")
            } catch {
                connection.logger.notice("\(error.status) \(error.reason)", metadata: ["fd": "\(connection.fd)"])
                submit(stream, connection.server.refusal(error.status, error.reason, stream.path))
                return
            }
        }
        ready.append((stream, request))
    }

    func streamClosed(_ id: Int32) {
        guard let stream = streams.removeValue(forKey: id) else { return }
        releaseBody(stream)
        stream.responder?.cancel()
    }

    private func reject(_ stream: Stream, _ status: Int, _ reason: String) {
        connection.logger.notice("\(status) \(reason)", metadata: ["fd": "\(connection.fd)", "stream": "\(stream.id)"])
        stream.rejected = status
        stream.rejectedReason = reason
        stream.headers = HTTPHeaders()
        stream.body = []
        releaseBody(stream)
    }

    private func run(_ stream: Stream, _ request: HTTPRequest) {
        let connection = self.connection
        // Weak: the stream holds the responder, so a strong capture would be a cycle.
        let responder = HTTPResponder { [weak stream] response in
            guard let stream else { return }
            connection.queue.async {
                guard !connection.closed, let session = connection.session as? HTTP2Session,
                      let current = session.streams[stream.id], current === stream else { return }
                session.submit(stream, response)
                session.pump()
                connection.flush()
            }
        }
        stream.responder = responder
        if let response = responder.run(connection.server.handler, request) {
            submit(stream, response)
        }
    }

    /// Submits the response headers and, unless HEAD or bodiless, a data provider over the body.
    private func submit(_ stream: Stream, _ response: HTTPResponse) {
        var response = response
        ResponseCompression.apply(&response, acceptsGzip: stream.acceptsGzip,
                                  threshold: connection.configuration.gzipThreshold)
        let hasBody = !HTTP1ResponseEncoder.forbidsBody(response.status)
        var fields: [(String, String)] = [(":status", String(response.status))]
        if let serverName = connection.configuration.serverName { fields.append(("server", serverName)) }
        fields.append(("date", connection.server.dateHeader))
        for (name, value) in response.headers where !HTTP2Session.connectionSpecific.contains(name) {
            fields.append((name, value))
        }
        if hasBody { fields.append(("content-length", String(response.body.count))) }
        let sendBody = hasBody && stream.method != "HEAD" && !response.body.isEmpty
        stream.responseBody = sendBody ? response.body : []
        stream.responseOffset = 0
        var provider = nghttp2_data_provider()
        provider.read_callback = HTTP2Callbacks.readBody
        HTTP2HeaderBlock.withNameValues(fields) { nva, count in
            if sendBody {
                _ = nghttp2_submit_response(session, stream.id, nva, count, &provider)
            } else {
                _ = nghttp2_submit_response(session, stream.id, nva, count, nil)
            }
        }
    }

    /// Header fields HTTP/2 forbids (RFC 9113 section 8.2.2) or that the server sets itself.
    private static let connectionSpecific: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "content-length",
    ]

    /// Copies the next piece of a stream's response body into nghttp2's frame buffer.
    func readBody(_ id: Int32, into buffer: UnsafeMutablePointer<UInt8>, length: Int,
                  flags: UnsafeMutablePointer<UInt32>) -> Int {
        guard let stream = streams[id] else { return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue) }
        let n = min(length, stream.responseBody.count - stream.responseOffset)
        stream.responseBody.withUnsafeBufferPointer {
            buffer.update(from: $0.baseAddress! + stream.responseOffset, count: n)
        }
        stream.responseOffset += n
        if n > 0 { responseProgress = true }
        if stream.responseOffset == stream.responseBody.count {
            flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
            stream.responseBody = []
        }
        return n
    }
}
