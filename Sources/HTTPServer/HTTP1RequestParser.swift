/// Incremental HTTP/1.x request parser (RFC 9112), strict about everything that enables request
/// smuggling: bare CR, obs-fold, whitespace before the colon, bad chunk sizes, conflicting lengths.
/// Feed it the unconsumed input; it reports how much it consumed and, at most, one event per call.
struct HTTP1RequestParser {
    enum Event: Equatable {
        case head(HTTP1RequestHead)
        /// The whole body (after transfer decoding); the request is complete.
        case end([UInt8])
    }

    private enum State {
        case head
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers(bytes: Int)
    }

    let limits: HTTPServerConfiguration.Limits
    private var state = State.head
    /// Where the search for the end of the head resumes, so a slowly sent head is scanned once.
    private var scanned = 0
    private var body: [UInt8] = []

    init(limits: HTTPServerConfiguration.Limits) {
        self.limits = limits
    }

    /// True between requests (nothing of the next request parsed yet).
    var isIdle: Bool {
        if case .head = state { return scanned == 0 }
        return false
    }

    var isReadingBody: Bool {
        if case .head = state { return false }
        return true
    }

    mutating func parse(_ input: UnsafeBufferPointer<UInt8>) throws(HTTPError) -> (event: Event?, consumed: Int) {
        var offset = 0
        while true {
            switch state {
            case .head:
                guard let (head, length) = try parseHead(input) else { return (nil, 0) }
                scanned = 0
                switch head.framing {
                case .none: state = .body(remaining: 0)
                case .length(let n): state = .body(remaining: n); body.reserveCapacity(n)
                case .chunked: state = .chunkSize
                }
                return (.head(head), length)

            case .body(let remaining):
                let take = min(remaining, input.count - offset)
                body.append(contentsOf: UnsafeBufferPointer(rebasing: input[offset..<offset + take]))
                offset += take
                if remaining - take > 0 {
                    state = .body(remaining: remaining - take)
                    return (nil, offset)
                }
                return (finish(), offset)

            case .chunkSize:
                guard let (line, next) = try readLine(input, from: offset, limit: 1024, crlf: true) else { return (nil, offset) }
                let size = try HTTP1RequestParser.chunkSize(line)
                offset = next
                if size == 0 {
                    state = .trailers(bytes: 0)
                } else {
                    if size > limits.maxBodyBytes - body.count {
                        throw HTTPError(413, "chunked body over the body limit")
                    }
                    state = .chunkData(remaining: size)
                }

            case .chunkData(let remaining):
                let take = min(remaining, input.count - offset)
                body.append(contentsOf: UnsafeBufferPointer(rebasing: input[offset..<offset + take]))
                offset += take
                if remaining - take > 0 {
                    state = .chunkData(remaining: remaining - take)
                    return (nil, offset)
                }
                state = .chunkDataEnd

            case .chunkDataEnd:
                guard let (line, next) = try readLine(input, from: offset, limit: 2, crlf: true) else { return (nil, offset) }
                if !line.isEmpty { throw HTTPError(400, "chunk data not followed by CRLF") }
                offset = next
                state = .chunkSize

            case .trailers(let bytes):
                let limit = limits.maxHeaderBytes - bytes
                guard let (line, next) = try readLine(input, from: offset, limit: limit, crlf: true) else { return (nil, offset) }
                if line.isEmpty {
                    return (finish(), next)
                }
                if line.first == 0x20 || line.first == 0x09 { throw HTTPError(400, "obsolete line folding in trailers") }
                _ = try HTTP1RequestParser.field(line)
                state = .trailers(bytes: bytes + next - offset)
                offset = next
            }
        }
    }

    private mutating func finish() -> Event {
        state = .head
        let complete = body
        body = []
        return .end(complete)
    }

    /// One line ending at LF (a preceding CR is dropped); nil when incomplete. A line longer than
    /// `limit` or containing a bare CR is an error, and so is a bare LF when `crlf` is set: inside chunked
    /// framing every line must end in CRLF, or two parsers could disagree on where the body ends.
    private func readLine(_ input: UnsafeBufferPointer<UInt8>, from start: Int, limit: Int,
                          crlf: Bool = false) throws(HTTPError) -> (UnsafeBufferPointer<UInt8>, Int)? {
        var i = start
        while i < input.count {
            if input[i] == 0x0A {
                var end = i
                if end > start && input[end - 1] == 0x0D {
                    end -= 1
                } else if crlf {
                    throw HTTPError(400, "bare LF in chunked framing")
                }
                let line = UnsafeBufferPointer(rebasing: input[start..<end])
                if line.contains(0x0D) { throw HTTPError(400, "bare CR") }
                return (line, i + 1)
            }
            if i - start > limit { throw HTTPError(limit <= 2 ? 400 : 431, "line over its limit") }
            i += 1
        }
        if input.count - start > limit { throw HTTPError(limit <= 2 ? 400 : 431, "line over its limit") }
        return nil
    }

    /// chunk-size [ chunk-ext ]: hex digits, then nothing or BWS ";" extensions (RFC 9112 section 7.1).
    static func chunkSize(_ line: UnsafeBufferPointer<UInt8>) throws(HTTPError) -> Int {
        var size = 0
        var digits = 0
        var i = 0
        while i < line.count, let v = hexValue(line[i]) {
            digits += 1
            if digits > 15 { throw HTTPError(400, "chunk size overflow") }
            size = size << 4 | v
            i += 1
        }
        if digits == 0 { throw HTTPError(400, "invalid chunk size") }
        try validateChunkExtensions(line, from: i)
        return size
    }

    /// chunk-ext = *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] ): extensions are ignored,
    /// but only well-formed ones are let through (NULs or stray bytes here are a smuggling probe).
    static func validateChunkExtensions(_ line: UnsafeBufferPointer<UInt8>, from start: Int) throws(HTTPError) {
        var i = start
        func skipWhitespace() { while i < line.count, line[i] == 0x20 || line[i] == 0x09 { i += 1 } }
        func token() throws(HTTPError) {
            let begin = i
            while i < line.count, isTokenChar(line[i]) { i += 1 }
            if i == begin { throw HTTPError(400, "invalid chunk extension") }
        }
        skipWhitespace()
        while i < line.count {
            guard line[i] == 0x3B else { throw HTTPError(400, "invalid chunk size") }
            i += 1
            skipWhitespace()
            try token()
            skipWhitespace()
            if i < line.count, line[i] == 0x3D {
                i += 1
                skipWhitespace()
                if i < line.count, line[i] == 0x22 {
                    i += 1
                    var closed = false
                    while i < line.count {
                        let c = line[i]
                        if c == 0x22 { closed = true; i += 1; break }
                        if c == 0x5C {
                            i += 1
                            guard i < line.count, line[i] == 0x09 || line[i] >= 0x20 && line[i] != 0x7F else { break }
                        } else if !(c == 0x09 || c >= 0x20 && c != 0x7F) {
                            break
                        }
                        i += 1
                    }
                    if !closed { throw HTTPError(400, "invalid chunk extension") }
                } else {
                    try token()
                }
                skipWhitespace()
            }
        }
    }

    private static func hexValue(_ c: UInt8) -> Int? {
        switch c {
        case 0x30...0x39: return Int(c - 0x30)
        case 0x41...0x46: return Int(c - 0x41 + 10)
        case 0x61...0x66: return Int(c - 0x61 + 10)
        default: return nil
        }
    }

    /// Finds the end of the head (an empty line), then parses it; nil while incomplete.
    private mutating func parseHead(_ input: UnsafeBufferPointer<UInt8>) throws(HTTPError) -> (HTTP1RequestHead, Int)? {
        // Empty lines before the request line are ignored (RFC 9112 section 2.2).
        var start = 0
        while start < input.count && (input[start] == 0x0D || input[start] == 0x0A) {
            if input[start] == 0x0D && (start + 1 < input.count && input[start + 1] != 0x0A) {
                throw HTTPError(400, "bare CR")
            }
            start += 1
            if start > 64 { throw HTTPError(400, "empty lines before the request") }
        }
        var i = max(scanned, start)
        var firstLineEnd: Int? = nil
        var end: Int? = nil
        // The request line's end may lie before `scanned`; find it again (cheap: one memchr-like pass).
        if let lf = input[start..<min(i, input.count)].firstIndex(of: 0x0A) { firstLineEnd = lf }
        while i < input.count {
            if input[i] == 0x0A {
                if firstLineEnd == nil { firstLineEnd = i }
                if i > start && (input[i - 1] == 0x0A || (input[i - 1] == 0x0D && i > start + 1 && input[i - 2] == 0x0A)) {
                    end = i + 1
                    break
                }
            }
            i += 1
        }
        scanned = i
        guard let headEnd = end else {
            let lineLength = (firstLineEnd ?? input.count) - start
            if lineLength > limits.maxURILength + 32 { throw HTTPError(414, "request line over the URI limit") }
            if input.count - start > limits.maxHeaderBytes { throw HTTPError(431, "head over the header-bytes limit") }
            return nil
        }
        if headEnd - start > limits.maxHeaderBytes {
            let lineLength = (firstLineEnd ?? headEnd) - start
            if lineLength > limits.maxURILength + 32 { throw HTTPError(414, "request line over the URI limit") }
            throw HTTPError(431, "head over the header-bytes limit")
        }
        let head = try parseHeadLines(UnsafeBufferPointer(rebasing: input[start..<headEnd]))
        return (head, headEnd)
    }

    private func parseHeadLines(_ head: UnsafeBufferPointer<UInt8>) throws(HTTPError) -> HTTP1RequestHead {
        var lineStart = 0
        var lines: [UnsafeBufferPointer<UInt8>] = []
        for i in 0..<head.count where head[i] == 0x0A {
            var end = i
            if end > lineStart && head[end - 1] == 0x0D { end -= 1 }
            let line = UnsafeBufferPointer(rebasing: head[lineStart..<end])
            if line.contains(0x0D) { throw HTTPError(400, "bare CR") }
            lines.append(line)
            lineStart = i + 1
        }
        // The last line is the empty terminator.
        lines.removeLast()
        let (method, target, version) = try HTTP1RequestParser.requestLine(lines[0], maxURILength: limits.maxURILength)
        if lines.count - 1 > limits.maxHeaderCount { throw HTTPError(431, "more header fields than the limit") }
        var headers = HTTPHeaders()
        for line in lines.dropFirst() {
            if line.first == 0x20 || line.first == 0x09 { throw HTTPError(400, "obsolete line folding") }
            let (name, value) = try HTTP1RequestParser.field(line)
            headers.appendLowercased(name, value)
        }
        return try HTTP1RequestHead(method: method, target: target, version: version, headers: headers,
                                    maxBodyBytes: limits.maxBodyBytes)
    }

    static func requestLine(_ line: UnsafeBufferPointer<UInt8>,
                            maxURILength: Int) throws(HTTPError) -> (String, String, HTTPRequest.Version) {
        guard let sp1 = line.firstIndex(of: 0x20) else { throw HTTPError(400, "malformed request line") }
        guard let sp2 = line[(sp1 + 1)...].lastIndex(of: 0x20), sp2 > sp1 + 1 else {
            throw HTTPError(400, "malformed request line")
        }
        let method = line[..<sp1]
        let target = line[(sp1 + 1)..<sp2]
        let version = line[(sp2 + 1)...]
        if method.isEmpty || !method.allSatisfy(isTokenChar) { throw HTTPError(400, "invalid method") }
        if target.count > maxURILength { throw HTTPError(414, "target over the URI limit") }
        if !target.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) { throw HTTPError(400, "invalid request target") }
        if target.first != 0x2F && !(target.count == 1 && target.first == 0x2A) && !target.contains(0x3A) {
            throw HTTPError(400, "invalid request target")
        }
        let v = Array(version)
        guard v.count == 8, v[0..<5].elementsEqual("HTTP/".utf8), (0x30...0x39).contains(v[5]), v[6] == 0x2E,
              (0x30...0x39).contains(v[7]) else { throw HTTPError(400, "malformed HTTP version") }
        let parsed: HTTPRequest.Version
        switch (v[5], v[7]) {
        case (0x31, 0x30): parsed = .http1_0
        case (0x31, _): parsed = .http1_1
        default: throw HTTPError(505, "unsupported HTTP version")
        }
        return (String(decoding: method, as: UTF8.self), String(decoding: target, as: UTF8.self), parsed)
    }

    /// field-name ":" OWS field-value OWS, with no whitespace before the colon (RFC 9112 section 5.1).
    static func field(_ line: UnsafeBufferPointer<UInt8>) throws(HTTPError) -> (String, String) {
        guard let colon = line.firstIndex(of: 0x3A) else { throw HTTPError(400, "header line without a colon") }
        let name = line[..<colon]
        if name.isEmpty { throw HTTPError(400, "empty header name") }
        if !name.allSatisfy(isTokenChar) {
            let last = name[name.index(before: name.endIndex)]
            throw HTTPError(400, last == 0x20 || last == 0x09 ? "whitespace before the colon" : "invalid header name")
        }
        var from = colon + 1
        var to = line.count
        while from < to && (line[from] == 0x20 || line[from] == 0x09) { from += 1 }
        while to > from && (line[to - 1] == 0x20 || line[to - 1] == 0x09) { to -= 1 }
        let value = line[from..<to]
        if value.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) {
            throw HTTPError(400, "control character in a header value")
        }
        var lowered = [UInt8](name)
        for j in lowered.indices where lowered[j] >= 0x41 && lowered[j] <= 0x5A { lowered[j] |= 0x20 }
        return (String(decoding: lowered, as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    /// tchar (RFC 9110 section 5.6.2).
    static func isTokenChar(_ c: UInt8) -> Bool {
        switch c {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: return true
        default: return false
        }
    }
}
