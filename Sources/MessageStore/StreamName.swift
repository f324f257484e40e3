/// The name of a stream, with Message DB's rules for its parts.
///
/// A stream name is `{category}-{id}`. The category may carry types after a colon
/// (`account:command`, `account:command+position`), and the id may be compound
/// (`123+456`); its first part is the cardinal id, which consumer groups partition by.
/// A name without a `-` names a category.
///
/// ```swift
/// let stream: StreamName = "account:command-123+456"
/// stream.category      // "account:command"
/// stream.entityName    // "account"
/// stream.categoryTypes // ["command"]
/// stream.id            // "123+456"
/// stream.cardinalID    // "123"
/// ```
public struct StreamName: Sendable, Hashable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The full name as stored, e.g. `account-123`.
    public let rawValue: String

    /// Creates a stream name, checking that it is one Thalo can write to.
    ///
    /// - Throws: ``MessageStoreError`` with code `invalidStreamName` when the name is empty,
    ///   contains whitespace or control characters, or has an empty category or id part.
    public init(validating rawValue: String) throws(MessageStoreError) {
        if let problem = StreamName.problem(in: rawValue) {
            throw MessageStoreError(.invalidStreamName, "invalid stream name \"\(rawValue)\": \(problem)")
        }
        self.rawValue = rawValue
    }

    /// Creates a stream name without checking it; use for names read back from a store.
    public init(unchecked rawValue: String) {
        self.rawValue = rawValue
    }

    /// Creates a stream name from a literal. Literals are trusted, as code is.
    public init(stringLiteral value: String) {
        self.rawValue = value
    }

    /// Builds `{category}-{id}` or, when `id` is nil, the category itself.
    ///
    /// ```swift
    /// StreamName(category: "account", id: "123", types: ["command"]) // account:command-123
    /// ```
    public init(category: String, id: String? = nil, types: [String] = []) {
        var name = category
        if !types.isEmpty { name += ":" + types.joined(separator: "+") }
        if let id { name += "-" + id }
        self.rawValue = name
    }

    /// The most characters (Unicode scalars) a stream or category name may have. Message
    /// DB indexes names (the stream name, and the categories of a message's stream and of
    /// its correlation stream together) in B-tree entries of at most 2,704 bytes: 300
    /// characters are at most 1,200 bytes of UTF-8, so two of them fit, and every store
    /// refuses the same names.
    public static let maximumLength = 300

    /// How many characters (Unicode scalars) `text` has when that is more than `limit`, or
    /// nil. Its bytes bound its characters from above, so only a long text is counted.
    public static func length(of text: String, beyond limit: Int) -> Int? {
        guard text.utf8.count > limit else { return nil }
        let count = text.unicodeScalars.count
        return count > limit ? count : nil
    }

    /// Describes what is wrong with `name` as a stream or category name, or returns nil.
    public static func problem(in name: String) -> String? {
        if name.isEmpty { return "the name is empty" }
        if let length = length(of: name, beyond: maximumLength) {
            return "it is \(length) characters long; names have at most \(maximumLength)"
        }
        if containsWhitespaceOrControl(name) { return "it contains whitespace or a control character" }
        if name.hasPrefix("-") { return "the category before '-' is empty" }
        if name.hasSuffix("-") { return "the id after '-' is empty" }
        if name.hasPrefix(":") { return "the category name before ':' is empty" }
        return nil
    }

    /// Whether `text` has a whitespace or control character, which no stream name may have.
    public static func containsWhitespaceOrControl(_ text: String) -> Bool {
        // ASCII is checked by value (its whitespace is 0x09–0x0D and 0x20); Unicode's
        // property tables, which cost more per scalar, only for the rest. Every command and
        // read checks a name, so this is on the hot path.
        for scalar in text.unicodeScalars {
            let value = scalar.value
            let bad = value < 0x80 ? value <= 0x20 || value == 0x7F : scalar.properties.isWhitespace
            if bad { return true }
        }
        return false
    }

    /// The part before the first `-`, types included: `account:command` for `account:command-1`.
    public var category: String {
        guard let dash = rawValue.firstIndex(of: "-") else { return rawValue }
        return String(rawValue[..<dash])
    }

    /// The part after the first `-`, or nil for a category name.
    public var id: String? {
        guard let dash = rawValue.firstIndex(of: "-") else { return nil }
        return String(rawValue[rawValue.index(after: dash)...])
    }

    /// The first part of a compound id (`123` for `account-123+456`), or nil for a category name.
    public var cardinalID: String? {
        guard let id else { return nil }
        guard let plus = id.firstIndex(of: "+") else { return id }
        return String(id[..<plus])
    }

    /// Whether this names a category rather than a stream (it has no `-`).
    public var isCategory: Bool { !rawValue.contains("-") }

    /// The category without its types: `account` for `account:command-1`.
    public var entityName: String {
        let category = self.category
        guard let colon = category.firstIndex(of: ":") else { return category }
        return String(category[..<colon])
    }

    /// The category types after the colon: `["command", "position"]` for `account:command+position-1`.
    public var categoryTypes: [String] {
        let category = self.category
        guard let colon = category.firstIndex(of: ":") else { return [] }
        return category[category.index(after: colon)...].split(separator: "+").map(String.init)
    }

    public var description: String { rawValue }

    public static func < (lhs: StreamName, rhs: StreamName) -> Bool { lhs.rawValue < rhs.rawValue }
}

extension StreamName: Codable {
    public init(from decoder: any Decoder) throws {
        self.rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
