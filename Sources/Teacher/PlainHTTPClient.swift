#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// How one exchange with the endpoint ended.
enum HTTPReply: Error, Equatable {
    case answer(Data, status: Int)
    case failed(String)
    case timedOut
    case tooLarge(status: Int?)
}

/// A small HTTP/1.1 client for `http://` endpoints (the usual GPU teacher: vLLM, TGI or llama.cpp in the same
/// network). Each request has its own connection (`Connection: close`, so the server closes first and keeps
/// the TIME_WAIT), one deadline for everything from connecting to the last byte however the server paces its
/// bytes, and the answer read into at most `limit` bytes: reading stops as the answer passes it, so a server
/// sending gigabytes costs nothing. URLSession could do neither on Linux: its idle timeout restarts with every
/// byte, and it hands the body over asynchronously, reading ahead without bound.
enum PlainHTTPClient {
    /// Room for the status line and headers, on top of the body's `limit`.
    static let headLimit = 64 * 1024

    static func post(url: URL, headers: [(String, String)], body: Data, timeout: TimeInterval, limit: Int) -> HTTPReply {
        let deadline = Date().addingTimeInterval(timeout)
        guard let host = url.host, !host.isEmpty else { return .failed("no host in \(url.absoluteString)") }
        let port = url.port ?? 80
        let fd: Int32
        switch connect(host: host, port: port, deadline: deadline) {
        case let .success(socket): fd = socket
        case let .failure(reply): return reply
        }
        defer { close(fd) }

        let components = URLComponents(url: url, resolvingAgainstBaseURL: false)
        var target = components?.percentEncodedPath ?? "/"
        if target.isEmpty { target = "/" }
        if let query = components?.percentEncodedQuery { target += "?" + query }
        let hostHeader = host.contains(":") ? "[\(host)]" : host
        var head = "POST \(target) HTTP/1.1\r\nHost: \(hostHeader)\(url.port.map { ":\($0)" } ?? "")\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        if let reply = write(Data(head.utf8) + body, to: fd, deadline: deadline) { return reply }
        return read(from: fd, deadline: deadline, limit: limit)
    }

    private static func milliseconds(until deadline: Date) -> Int32 {
        Int32(max(0, min(deadline.timeIntervalSinceNow * 1000, Double(Int32.max))).rounded(.up))
    }

    /// Waits until `fd` is ready for `events`; false at the deadline.
    private static func wait(_ fd: Int32, for events: Int16, deadline: Date) -> Bool {
        while true {
            let remaining = milliseconds(until: deadline)
            if remaining <= 0 { return false }
            var descriptor = pollfd(fd: fd, events: events, revents: 0)
            let n = poll(&descriptor, 1, remaining)
            if n > 0 { return true }
            if n == 0 { return false }
            if errno != EINTR { return true }  // the next call reports the error
        }
    }

    private static func connect(host: String, port: Int, deadline: Date) -> Result<Int32, HTTPReply> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &result)
        guard rc == 0, result != nil else {
            return .failure(.failed("cannot resolve \(host): \(String(cString: gai_strerror(rc)))"))
        }
        defer { freeaddrinfo(result) }
        var failure = "cannot connect to \(host):\(port)"
        var next = result
        while let info = next {
            next = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
                            | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { continue }
            if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return .success(fd) }
            guard errno == EINPROGRESS else {
                failure = "cannot connect to \(host):\(port): \(String(cString: strerror(errno)))"
                close(fd)
                continue
            }
            guard wait(fd, for: Int16(POLLOUT), deadline: deadline) else {
                close(fd)
                return .failure(.timedOut)
            }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            if error == 0 { return .success(fd) }
            failure = "cannot connect to \(host):\(port): \(String(cString: strerror(error)))"
            close(fd)
        }
        return .failure(.failed(failure))
    }

    private static func write(_ data: Data, to fd: Int32, deadline: Date) -> HTTPReply? {
        var sent = 0
        while sent < data.count {
            let n = data.withUnsafeBytes { bytes in
                send(fd, bytes.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
            }
            if n > 0 { sent += n; continue }
            if n < 0, errno == EINTR { continue }
            if n < 0, errno == EAGAIN || errno == EWOULDBLOCK {
                guard wait(fd, for: Int16(POLLOUT), deadline: deadline) else { return .timedOut }
                continue
            }
            return .failed("sending the request: \(String(cString: strerror(errno)))")
        }
        return nil
    }

    private static func read(from fd: Int32, deadline: Date, limit: Int) -> HTTPReply {
        var buffer = [UInt8]()
        var message = HTTPMessage()
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            switch message.parse(buffer, limit: limit) {
            case let .complete(status, body): return .answer(Data(body), status: status)
            case let .tooLarge(status): return .tooLarge(status: status)
            case let .malformed(reason): return .failed("not an HTTP answer: \(reason)")
            case .incomplete: break
            }
            // Chunk sizes add to the body's bytes; a body in absurdly small chunks is refused as too large.
            guard buffer.count <= 4 * limit + 2 * headLimit else { return .tooLarge(status: message.status) }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer += chunk[..<n]
            } else if n == 0 {
                switch message.parse(buffer, limit: limit, atEnd: true) {
                case let .complete(status, body): return .answer(Data(body), status: status)
                case let .tooLarge(status): return .tooLarge(status: status)
                case let .malformed(reason): return .failed("not an HTTP answer: \(reason)")
                case .incomplete:
                    return .failed(buffer.isEmpty ? "the server closed the connection without answering"
                                                  : "the server closed the connection in the middle of its answer")
                }
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                guard wait(fd, for: Int16(POLLIN), deadline: deadline) else { return .timedOut }
            } else if errno != EINTR {
                return .failed("reading the answer: \(String(cString: strerror(errno)))")
            }
        }
    }
}

/// An HTTP/1.1 response read so far: the head once it is whole, then the body by Content-Length, chunked
/// transfer coding, or up to the connection's end.
struct HTTPMessage {
    enum State: Equatable {
        case incomplete
        case complete(status: Int, body: [UInt8])
        case tooLarge(status: Int?)
        case malformed(String)
    }

    private(set) var status: Int?
    private var headStart = 0
    private var bodyStart: Int?
    private var contentLength: Int?
    private var chunked = false

    /// What `bytes` (everything received) hold; `atEnd` when the server has closed the connection.
    mutating func parse(_ bytes: [UInt8], limit: Int, atEnd: Bool = false) -> State {
        while bodyStart == nil {
            guard let end = Self.find([13, 10, 13, 10], in: bytes, from: headStart) else {
                return bytes.count - headStart > PlainHTTPClient.headLimit ? .malformed("a head over 64 KiB") : .incomplete
            }
            let lines = String(decoding: bytes[headStart..<end], as: UTF8.self).components(separatedBy: "\r\n")
            let parts = lines[0].split(separator: " ", maxSplits: 2)
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let code = Int(parts[1]), (100...999).contains(code) else {
                return .malformed("status line \(String(lines[0].prefix(100)).debugDescription)")
            }
            if (100...199).contains(code) {  // an interim answer (100 Continue, 103): the real one follows
                headStart = end + 4
                continue
            }
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                if name == "content-length" {
                    guard let length = Int(value), length >= 0 else { return .malformed("Content-Length \(value)") }
                    contentLength = length
                } else if name == "transfer-encoding", value.lowercased().contains("chunked") {
                    chunked = true
                }
            }
            status = code
            bodyStart = end + 4
            if !chunked, let contentLength, contentLength > limit { return .tooLarge(status: code) }
        }
        let start = bodyStart!, status = status!
        if chunked { return Self.dechunk(bytes, from: start, limit: limit, status: status) }
        let received = bytes.count - start
        if let contentLength {
            if received >= contentLength { return .complete(status: status, body: Array(bytes[start..<start + contentLength])) }
            return .incomplete
        }
        if received > limit { return .tooLarge(status: status) }
        return atEnd ? .complete(status: status, body: Array(bytes[start...])) : .incomplete
    }

    private static func find(_ pattern: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= pattern.count + start else { return nil }
        var index = start
        while index + pattern.count <= bytes.count {
            if bytes[index] == pattern[0], Array(bytes[index..<index + pattern.count]) == pattern { return index }
            index += 1
        }
        return nil
    }

    /// The chunked body from `start`, if every chunk up to the last (size 0) is there.
    private static func dechunk(_ bytes: [UInt8], from start: Int, limit: Int, status: Int) -> State {
        var body: [UInt8] = []
        var index = start
        while true {
            guard let lineEnd = find([13, 10], in: bytes, from: index) else { return .incomplete }
            let sizeText = String(decoding: bytes[index..<lineEnd], as: UTF8.self)
                .split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            guard let size = Int(sizeText, radix: 16), size >= 0 else { return .malformed("chunk size \(sizeText.debugDescription)") }
            if body.count + size > limit { return .tooLarge(status: status) }
            let dataStart = lineEnd + 2
            if size == 0 { return find([13, 10], in: bytes, from: dataStart) == nil ? .incomplete : .complete(status: status, body: body) }
            guard bytes.count >= dataStart + size + 2 else { return .incomplete }
            body += bytes[dataStart..<dataStart + size]
            index = dataStart + size + 2
        }
    }
}
