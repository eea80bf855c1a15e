/// Response content coding shared by HTTP/1 and HTTP/2: gzip when the client accepts it and the
/// body is big enough to be worth it.
enum ResponseCompression {
    static func apply(_ response: inout HTTPResponse, acceptsGzip: Bool, threshold: Int) {
        guard response.body.count >= threshold, !HTTP1ResponseEncoder.forbidsBody(response.status),
              response.headers["content-encoding"] == nil else { return }
        response.headers.add("vary", "accept-encoding")
        guard acceptsGzip else { return }
        response.body = ContentCoding.gzip(response.body)
        response.headers.add("content-encoding", "gzip")
    }
}
