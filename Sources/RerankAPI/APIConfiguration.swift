/// What the API layer needs beyond the service: credentials and what `/info` reports.
public struct APIConfiguration: Sendable {
    /// When set, the rerank routes need `Authorization: Bearer <apiKey>`.
    public var apiKey: String?
    /// When set, the admin routes need `Authorization: Bearer <adminToken>`; when nil they are off.
    public var adminToken: String?
    /// The server's version, reported by `/info`.
    public var version: String
    /// The OpenAPI document served at `/openapi.yaml`.
    public var openAPIDocument: [UInt8]
    /// Request body limit, reported by `/info` (the HTTP layer enforces it).
    public var maxBodyBytes: Int

    public init(apiKey: String? = nil, adminToken: String? = nil, version: String, openAPIDocument: [UInt8],
                maxBodyBytes: Int) {
        self.apiKey = apiKey
        self.adminToken = adminToken
        self.version = version
        self.openAPIDocument = openAPIDocument
        self.maxBodyBytes = maxBodyBytes
    }
}
