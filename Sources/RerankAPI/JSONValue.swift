/// Any JSON value, kept as sent so documents given as objects can be echoed back. Integers that fit 64 bits
/// stay integers: through a double, an id such as 1234567890123456789 would come back as 1.2345678901234568e+18.
public enum JSONValue: Codable, Equatable, Sendable {
    case null
    case bool(Bool)
    case integer(Int64)
    case unsignedInteger(UInt64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int64.self) { self = .integer(value) }
        else if let value = try? container.decode(UInt64.self) { self = .unsignedInteger(value) }
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
        case let .integer(value): try container.encode(value)
        case let .unsignedInteger(value): try container.encode(value)
        case let .number(value): try container.encode(value)
        case let .string(value): try container.encode(value)
        case let .array(value): try container.encode(value)
        case let .object(value): try container.encode(value)
        }
    }

    /// What kind of JSON value this is, for error messages.
    var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .integer, .unsignedInteger, .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// The value as plain text for ranking: strings as they are, anything else as compact JSON-ish text.
    var plainText: String {
        switch self {
        case .null: return ""
        case let .bool(value): return "\(value)"
        case let .integer(value): return "\(value)"
        case let .unsignedInteger(value): return "\(value)"
        case let .number(value): return value == value.rounded() && abs(value) < 1e15 ? "\(Int64(value))" : "\(value)"
        case let .string(value): return value
        case let .array(values): return values.map(\.plainText).joined(separator: ", ")
        case let .object(fields): return fields.keys.sorted().map { "\($0): \(fields[$0]!.plainText)" }.joined(separator: "\n")
        }
    }
}
