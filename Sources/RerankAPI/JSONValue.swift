/// Any JSON value, kept as sent so documents given as objects can be echoed back.
public enum JSONValue: Codable, Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case let .bool(value): try container.encode(value)
        case let .number(value): try container.encode(value)
        case let .string(value): try container.encode(value)
        case let .array(value): try container.encode(value)
        case let .object(value): try container.encode(value)
        }
    }

    /// The value as plain text for ranking: strings as they are, anything else as compact JSON-ish text.
    var plainText: String {
        switch self {
        case .null: return ""
        case let .bool(value): return "\(value)"
        case let .number(value): return value == value.rounded() && abs(value) < 1e15 ? "\(Int64(value))" : "\(value)"
        case let .string(value): return value
        case let .array(values): return values.map(\.plainText).joined(separator: ", ")
        case let .object(fields): return fields.keys.sorted().map { "\($0): \(fields[$0]!.plainText)" }.joined(separator: "\n")
        }
    }
}
