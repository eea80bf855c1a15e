// libFuzzer entry point for the HTTP/1.1 request parser (built by Scripts/fuzz/http1_parser.sh).
// Each input is parsed whole and again split at a point taken from its first byte; both must reach
// the same requests and the same status, and a status must be one the parser may answer with.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    var limits = HTTPServerConfiguration.Limits()
    limits.maxHeaderBytes = 1024
    limits.maxURILength = 256
    limits.maxBodyBytes = 4096
    let split = input.isEmpty ? 0 : Int(input[0]) % (input.count + 1)
    let whole = parseAll([input], limits: limits)
    let pieces = parseAll([Array(input[..<split]), Array(input[split...])], limits: limits)
    // The status sent is what must not depend on the split; the logged reason may.
    if whole.events != pieces.events || whole.status != pieces.status {
        fatalError("split at \(split) changed the outcome: \(whole) vs \(pieces)")
    }
    if let status = whole.status, ![400, 413, 414, 417, 431, 501, 505].contains(status) {
        fatalError("unexpected status \(status)")
    }
    return 0
}

/// Every event until the input ends or the parser fails, and the failure's status.
private func parseAll(_ pieces: [[UInt8]],
                      limits: HTTPServerConfiguration.Limits) -> (events: [HTTP1RequestParser.Event], status: Int?) {
    var parser = HTTP1RequestParser(limits: limits)
    var buffer: [UInt8] = []
    var events: [HTTP1RequestParser.Event] = []
    for piece in pieces {
        buffer.append(contentsOf: piece)
        while true {
            do {
                let (event, consumed) = try buffer.withUnsafeBufferPointer { (b) throws(HTTPError) in try parser.parse(b) }
                buffer.removeFirst(consumed)
                guard let event else { break }
                events.append(event)
            } catch {
                return (events, error.status)
            }
        }
    }
    return (events, nil)
}
