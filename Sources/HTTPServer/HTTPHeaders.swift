/// Ordered header fields. Names are stored lowercased (as HTTP/2 requires), so lookups are
/// case-insensitive on the caller's side too.
public struct HTTPHeaders: Sendable, Equatable, Sequence {
    public private(set) var fields: [(name: String, value: String)]

    public init(_ fields: [(String, String)] = []) {
        self.fields = fields.map { (name: $0.0.lowercased(), value: $0.1) }
    }

    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }

    public var count: Int { fields.count }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        fields.makeIterator()
    }

    /// The first value of `name`, if present.
    public subscript(name: String) -> String? {
        let key = HTTPHeaders.lowercase(name)
        return fields.first { $0.name == key }?.value
    }

    /// Every value of `name`, in order.
    public func values(_ name: String) -> [String] {
        let key = HTTPHeaders.lowercase(name)
        return fields.filter { $0.name == key }.map(\.value)
    }

    /// Every comma-separated element of every `name` field, trimmed and lowercased.
    func tokens(_ name: String) -> [String] {
        values(name).flatMap { $0.split(separator: ",") }
            .map { $0.trimmingOWS().lowercased() }
            .filter { !$0.isEmpty }
    }

    public mutating func add(_ name: String, _ value: String) {
        fields.append((name: HTTPHeaders.lowercase(name), value: value))
    }

    /// Replaces every `name` field by a single one.
    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        add(name, value)
    }

    public mutating func remove(_ name: String) {
        let key = HTTPHeaders.lowercase(name)
        fields.removeAll { $0.name == key }
    }

    /// Skips `lowercased()` (slow, Unicode-aware) for names that are lowercase already, the usual case.
    static func lowercase(_ name: String) -> String {
        name.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) ? name.lowercased() : name
    }

    mutating func appendLowercased(_ name: String, _ value: String) {
        fields.append((name: name, value: value))
    }
}

extension Substring {
    /// Strips optional whitespace (SP / HTAB) at both ends, as RFC 9110 OWS.
    func trimmingOWS() -> Substring {
        var s = self
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return s
    }
}
