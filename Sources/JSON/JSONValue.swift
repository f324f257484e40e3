/// A JSON document: the payloads, metadata and API bodies that Thalo reads and writes.
///
/// Integers that fit in 64 bits are kept exactly (`integer`); every other number is a
/// `double`. Objects are unordered; ``JSONValue/jsonText`` writes their keys sorted so
/// the output is deterministic.
///
/// ```swift
/// let value = try JSONValue(parsing: #"{"amount": 10}"#)
/// value["amount"]?.integerValue // 10
/// ```
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case integer(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])
}

extension JSONValue {
    /// Parses UTF-8 JSON text.
    ///
    /// - Throws: ``JSONError`` naming the byte offset and what was expected.
    public init(parsing text: String) throws(JSONError) {
        var text = text
        let result = text.withUTF8 { bytes in
            Result { () throws(JSONError) in try JSONValue(parsing: UnsafeRawBufferPointer(bytes)) }
        }
        self = try result.get()
    }

    /// Parses UTF-8 JSON bytes.
    public init(parsing bytes: some Collection<UInt8>) throws(JSONError) {
        let array = Array(bytes)
        let result = array.withUnsafeBytes { buffer in
            Result { () throws(JSONError) in try JSONValue(parsing: buffer) }
        }
        self = try result.get()
    }

    /// Parses UTF-8 JSON from raw memory.
    public init(parsing buffer: UnsafeRawBufferPointer) throws(JSONError) {
        var parser = JSONParser(buffer)
        self = try parser.parseDocument()
    }

    /// The name of this value's JSON type, as used in error messages (`object`, `string`, …).
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .integer, .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// The member of an object with this key, or `nil` (also when this is not an object).
    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    /// The members, when this is an object.
    public var objectValue: [String: JSONValue]? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// The elements, when this is an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// The text, when this is a string.
    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// The value, when this is an integer (or a double with an exact 64-bit integer value).
    public var integerValue: Int64? {
        switch self {
        case .integer(let value): return value
        case .double(let value):
            guard value.rounded() == value, let exact = Int64(exactly: value) else { return nil }
            return exact
        default: return nil
        }
    }

    /// The value, when this is a number.
    public var doubleValue: Double? {
        switch self {
        case .integer(let value): return Double(value)
        case .double(let value): return value
        default: return nil
        }
    }

    /// The value, when this is a boolean.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// Whether this is `null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

extension JSONValue: CustomStringConvertible {
    /// The compact JSON text.
    public var description: String { jsonText }
}
