import JSON

/// Message metadata with Eventide's camelCase keys, plus free-form properties.
///
/// On the wire it is a JSON object; the known keys are:
/// `causationMessageStreamName`, `causationMessagePosition`,
/// `causationMessageGlobalPosition`, `correlationStreamName`, `replyStreamName`,
/// `schemaVersion`. Every other key is kept in ``properties``.
///
/// ```swift
/// var metadata = Metadata()
/// metadata.correlationStreamName = "order-42"
/// metadata.properties["moduleVersion"] = "1.0.0"
/// metadata.jsonText // {"correlationStreamName":"order-42","moduleVersion":"1.0.0"}
/// ```
public struct Metadata: Sendable, Hashable {
    /// The stream of the message that caused this one.
    public var causationMessageStreamName: String?
    /// The position of the causing message in its stream.
    public var causationMessagePosition: Int64?
    /// The global position of the causing message.
    public var causationMessageGlobalPosition: Int64?
    /// A stream whose category identifies a conversation this message belongs to; category
    /// reads can filter on it (`correlation`).
    public var correlationStreamName: String?
    /// Where a reply to this message should be written.
    public var replyStreamName: String?
    /// The version of the message's schema.
    public var schemaVersion: String?
    /// Every other key.
    public var properties: [String: JSONValue]

    /// The Eventide keys, which are not kept in ``properties``.
    public static let knownKeys: Set<String> = [
        "causationMessageStreamName", "causationMessagePosition", "causationMessageGlobalPosition",
        "correlationStreamName", "replyStreamName", "schemaVersion",
    ]

    public init(
        causationMessageStreamName: String? = nil,
        causationMessagePosition: Int64? = nil,
        causationMessageGlobalPosition: Int64? = nil,
        correlationStreamName: String? = nil,
        replyStreamName: String? = nil,
        schemaVersion: String? = nil,
        properties: [String: JSONValue] = [:]
    ) {
        self.causationMessageStreamName = causationMessageStreamName
        self.causationMessagePosition = causationMessagePosition
        self.causationMessageGlobalPosition = causationMessageGlobalPosition
        self.correlationStreamName = correlationStreamName
        self.replyStreamName = replyStreamName
        self.schemaVersion = schemaVersion
        self.properties = properties
    }

    /// Reads metadata from a JSON object; known keys with the wrong JSON type stay in
    /// ``properties`` rather than being lost.
    public init(json: JSONValue) throws(MessageStoreError) {
        guard case .object(var members) = json else {
            throw MessageStoreError(.invalidMetadata, "metadata must be a JSON object, found \(json.typeName)")
        }
        func take<T>(_ key: String, _ read: (JSONValue) -> T?) -> T? {
            guard let value = members[key], let typed = read(value) else { return nil }
            members[key] = nil
            return typed
        }
        self.causationMessageStreamName = take("causationMessageStreamName") { $0.stringValue }
        self.causationMessagePosition = take("causationMessagePosition") { $0.integerValue }
        self.causationMessageGlobalPosition = take("causationMessageGlobalPosition") { $0.integerValue }
        self.correlationStreamName = take("correlationStreamName") { $0.stringValue }
        self.replyStreamName = take("replyStreamName") { $0.stringValue }
        self.schemaVersion = take("schemaVersion") { $0.stringValue }
        self.properties = members
    }

    /// Reads metadata from JSON text.
    public init(jsonText: String) throws(MessageStoreError) {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: jsonText)
        } catch {
            throw MessageStoreError(.invalidMetadata, "metadata is not valid JSON: \(error)")
        }
        try self.init(json: value)
    }

    /// Every key that is set: the known keys, and the properties not named like a set known key.
    private var members: [(key: String, value: JSONValue)] {
        var members: [(key: String, value: JSONValue)] = []
        members.reserveCapacity(properties.count + 6)
        func add(_ key: String, _ value: JSONValue?) {
            if let value { members.append((key, value)) }
        }
        add("causationMessageStreamName", causationMessageStreamName.map(JSONValue.string))
        add("causationMessagePosition", causationMessagePosition.map(JSONValue.integer))
        add("causationMessageGlobalPosition", causationMessageGlobalPosition.map(JSONValue.integer))
        add("correlationStreamName", correlationStreamName.map(JSONValue.string))
        add("replyStreamName", replyStreamName.map(JSONValue.string))
        add("schemaVersion", schemaVersion.map(JSONValue.string))
        let known = members.count
        for (key, value) in properties where !members[..<known].contains(where: { $0.key == key }) {
            members.append((key, value))
        }
        return members
    }

    /// The metadata as a JSON object.
    public var json: JSONValue { .object(Dictionary(uniqueKeysWithValues: members)) }

    /// The metadata as compact JSON text with sorted keys (the text of ``json``, written
    /// without building the dictionary: every command writes metadata for its events).
    public var jsonText: String { JSONValue.objectText(members) }

    /// Whether no key is set.
    public var isEmpty: Bool {
        causationMessageStreamName == nil && causationMessagePosition == nil && causationMessageGlobalPosition == nil
            && correlationStreamName == nil && replyStreamName == nil && schemaVersion == nil && properties.isEmpty
    }
}
