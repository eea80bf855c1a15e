import CZlib

/// gzip/deflate content codings through zlib: bounded request-body decoding, response encoding.
enum ContentCoding {
    /// Decodes `body` per the `content-encoding` value; `maxOutput` guards against decompression bombs.
    static func decode(_ body: [UInt8], coding: String, maxOutput: Int) throws(HTTPError) -> [UInt8] {
        switch coding.lowercased() {
        case "identity":
            return body
        case "gzip", "x-gzip":
            return try inflate(body, windowBits: 15 + 16, maxOutput: maxOutput)
        case "deflate":
            // "deflate" means the zlib format (RFC 9110 section 8.4.1.2); some clients send raw deflate.
            do {
                return try inflate(body, windowBits: 15, maxOutput: maxOutput)
            } catch where error.status == 400 {
                return try inflate(body, windowBits: -15, maxOutput: maxOutput)
            }
        default:
            throw HTTPError(415, "unsupported content-encoding \(coding)")
        }
    }

    static func inflate(_ input: [UInt8], windowBits: Int32, maxOutput: Int) throws(HTTPError) -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw HTTPError(500, "zlib inflateInit failed")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var status: Int32 = Z_OK
        var input = input
        let inputCount = input.count
        try input.withUnsafeMutableBufferPointer { (inBuf) throws(HTTPError) in
            stream.next_in = inBuf.baseAddress
            stream.avail_in = uInt(inputCount)
            repeat {
                let produced: Int = chunk.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    return out.count - Int(stream.avail_out)
                }
                if status != Z_OK && status != Z_STREAM_END && !(status == Z_BUF_ERROR && produced > 0) {
                    throw HTTPError(400, "corrupt \(windowBits < 0 ? "raw deflate" : "compressed") body")
                }
                if output.count + produced > maxOutput {
                    throw HTTPError(413, "decoded body over the decoded-size limit")
                }
                output.append(contentsOf: chunk[0..<produced])
                if produced == 0 && stream.avail_in == 0 && status != Z_STREAM_END {
                    throw HTTPError(400, "truncated compressed body")
                }
            } while status != Z_STREAM_END
        }
        if stream.avail_in != 0 { throw HTTPError(400, "trailing bytes after the compressed body") }
        return output
    }

    /// gzip-encodes `input` (level 1: speed matters more than ratio for API responses).
    static func gzip(_ input: [UInt8], level: Int32 = 1) -> [UInt8] {
        var stream = z_stream()
        guard deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                            ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return input }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(input.count))))
        var input = input
        let inputCount = input.count
        let written: Int = input.withUnsafeMutableBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                stream.next_in = inBuf.baseAddress
                stream.avail_in = uInt(inputCount)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = uInt(outBuf.count)
                _ = deflate(&stream, Z_FINISH)
                return outBuf.count - Int(stream.avail_out)
            }
        }
        output.removeLast(output.count - written)
        return output
    }

    /// Whether `accept-encoding` values admit gzip (q > 0 for gzip, or for `*` when gzip is unnamed).
    static func acceptsGzip(_ acceptEncoding: [String]) -> Bool {
        var gzipQ: Double? = nil
        var starQ: Double? = nil
        for element in acceptEncoding.flatMap({ $0.split(separator: ",") }) {
            let parts = element.split(separator: ";")
            guard let name = parts.first?.trimmingOWS().lowercased() else { continue }
            var q = 1.0
            for param in parts.dropFirst() {
                let kv = param.split(separator: "=", maxSplits: 1)
                if kv.count == 2, kv[0].trimmingOWS().lowercased() == "q" { q = Double(kv[1].trimmingOWS()) ?? 0 }
            }
            if name == "gzip" || name == "x-gzip" { gzipQ = q } else if name == "*" { starQ = q }
        }
        return (gzipQ ?? starQ ?? 0) > 0
    }
}
