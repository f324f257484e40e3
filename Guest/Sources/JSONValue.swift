/// A JSON value, for state views and anything else that is easier to build as a tree.
///
/// ```swift
/// var state: JSONValue? {
///     ["balance": .int(balance), "open": .bool(isOpen)]
/// }
/// ```
///
/// Objects keep their members in order as an array of pairs (no hashing, which would need
/// the Unicode tables in Embedded Swift).
public enum JSONValue {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    /// The value as UTF-8 JSON text.
    public var json: [UInt8] {
        var writer = JSONWriter()
        writer.value(self)
        let bytes = writer.bytes
        writer.release()
        return bytes
    }
}

extension JSONValue: ExpressibleByNilLiteral {
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension JSONValue: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int64) { self = .int(value) }
}

extension JSONValue: ExpressibleByFloatLiteral {
    public init(floatLiteral value: Double) { self = .double(value) }
}

extension JSONValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}

extension JSONValue: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
}

extension JSONValue: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(elements) }
}
