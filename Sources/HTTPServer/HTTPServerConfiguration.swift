/// Where to listen, and every limit and timeout, with defaults close to nginx's.
public struct HTTPServerConfiguration: Sendable {
    public struct Limits: Sendable {
        /// Request line plus header fields (and chunked trailers), in bytes.
        public var maxHeaderBytes = 16 * 1024
        public var maxHeaderCount = 100
        public var maxURILength = 8 * 1024
        /// Body after transfer decoding, as received.
        public var maxBodyBytes = 2_000_000
        /// Body after `Content-Encoding` decoding (decompression-bomb guard).
        public var maxDecodedBodyBytes = 8_000_000
        /// Open connections; beyond it new ones wait in the kernel backlog, unless an HTTP/1.1 connection has
        /// waited this long for a request (idle keep-alive, or a head that never completes: slowloris): the
        /// oldest such is closed to let the newcomer in, so a health check gets through a connection flood.
        public var maxConnections = 4096
        public var evictWaitingConnectionsAfter: Duration = .seconds(1)
        /// Pipelined HTTP/1.1 requests awaiting responses before the server stops reading.
        public var maxPipelinedRequests = 16
        /// HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS.
        public var maxConcurrentStreams = 128
        /// HTTP/2 request bodies buffered at once on one connection (streams still receiving); a stream that
        /// would go over is refused with 503. Without it, 128 streams x the body limit per connection.
        public var maxConnectionBodyBytes = 8_000_000
        /// The same, over all connections of the server.
        public var maxBufferedBodyBytes = 256_000_000
        /// HTTP/2 stream resets tolerated per second and burst before GOAWAY (rapid reset).
        public var streamResetBurst = 1000
        public var streamResetRatePerSecond = 33
        public init() {}
    }

    public struct Timeouts: Sendable {
        /// Time to receive a whole request head (slowloris).
        public var head: Duration = .seconds(10)
        /// Time between body bytes.
        public var body: Duration = .seconds(30)
        /// Keep-alive idle time between requests (and HTTP/2 idle time with no open stream).
        public var idle: Duration = .seconds(60)
        /// Time a pending write may make no progress (slow readers), and time an HTTP/2 response may wait
        /// on a flow-control window the peer never opens.
        public var write: Duration = .seconds(30)
        public init() {}
    }

    public var host: String
    public var port: Int
    public var backlog: Int32 = 1024
    public var limits = Limits()
    public var timeouts = Timeouts()
    /// Responses at least this big are gzip-encoded when the client accepts gzip.
    public var gzipThreshold = 1024
    /// Serial queues connections are spread over; nil means one per core.
    public var eventLoops: Int? = nil
    /// Value of the `server` response header; nil (the default) leaves it out.
    public var serverName: String? = nil

    public init(host: String = "127.0.0.1", port: Int = 8080) {
        self.host = host
        self.port = port
    }
}

extension Duration {
    var nanoseconds: UInt64 {
        let (s, atto) = components
        return UInt64(max(0, s)) * 1_000_000_000 + UInt64(max(0, atto) / 1_000_000_000)
    }
}
