import Foundation
import JSON
import MessageStore

/// An entity's state saved by its module's `snapshot` export, as the runtime stores it.
///
/// Stored the Message DB way, next to the entity's stream: stream `{category}:snapshot-{id}`
/// (`bankAccount:snapshot-123`), message type `Recorded`, data
/// `{"position": 41, "eventId": "…", "state": …}` and metadata naming the module that wrote
/// it (`module`, `moduleVersion`, `moduleDigest`). The state is the module's bytes: kept as
/// JSON when they are JSON text (readable in the store), else base64 in `stateBase64`.
struct Snapshot: Equatable {
    /// The message type of snapshot messages.
    static let messageType = "Recorded"
    /// How many events before a restored snapshot are read back for their command ids, so
    /// that a command repeated soon after the snapshot was taken is still recognised as a
    /// repeat (docs/snapshots.md).
    static let idempotencyWindow: Int64 = 100

    /// The position of the last event the state reflects.
    var position: Int64
    /// The id of that event: a stream whose event at `position` is another (or missing)
    /// is not the stream the snapshot was taken of, and the snapshot is not used.
    var eventID: UUID
    /// The module's bytes.
    var state: [UInt8]
    /// The module that wrote it.
    var moduleName: String
    var moduleVersion: String
    var moduleDigest: String

    /// The snapshot stream of an entity stream: `bankAccount:snapshot-123`.
    static func stream(category: String, id: String) -> StreamName {
        StreamName(category: category, id: id, types: ["snapshot"])
    }

    /// The message to write.
    var message: NewMessage {
        var data: [String: JSONValue] = ["position": .integer(position), "eventId": .string(eventID.lowercasedText)]
        if let value = try? JSONValue(parsing: state), !value.losesPrecision {
            data["state"] = value
        } else {
            data["stateBase64"] = .string(Data(state).base64EncodedString())
        }
        let metadata: JSONValue = [
            "module": .string(moduleName), "moduleVersion": .string(moduleVersion), "moduleDigest": .string(moduleDigest),
        ]
        return NewMessage(type: Self.messageType, data: JSONValue.object(data).jsonText, metadata: metadata.jsonText)
    }

    /// Reads a stored snapshot; nil when the message is not one this runtime wrote.
    init?(_ message: Message) {
        guard message.type == Self.messageType, let data = try? JSONValue(parsing: message.data),
            let position = data["position"]?.integerValue, let eventID = data["eventId"]?.stringValue.flatMap(UUID.init(canonicalText:)),
            let metadataText = message.metadata, let metadata = try? JSONValue(parsing: metadataText),
            let digest = metadata["moduleDigest"]?.stringValue
        else { return nil }
        if let state = data["state"] {
            self.state = Array(state.jsonText.utf8)
        } else if let encoded = data["stateBase64"]?.stringValue, let bytes = Data(base64Encoded: encoded) {
            self.state = Array(bytes)
        } else {
            return nil
        }
        self.position = position
        self.eventID = eventID
        self.moduleName = metadata["module"]?.stringValue ?? ""
        self.moduleVersion = metadata["moduleVersion"]?.stringValue ?? ""
        self.moduleDigest = digest
    }

    init(position: Int64, eventID: UUID, state: [UInt8], module: AggregateModule) {
        self.position = position
        self.eventID = eventID
        self.state = state
        self.moduleName = module.name
        self.moduleVersion = module.version.description
        self.moduleDigest = module.digest
    }
}

extension JSONValue {
    /// Whether writing this value back would not give the number the text held: an integer
    /// beyond 64 bits is parsed as a double. Such states are stored base64-encoded instead.
    fileprivate var losesPrecision: Bool {
        switch self {
        case .double(let value): return value == value.rounded() && abs(value) >= 9.0e15
        case .array(let elements): return elements.contains { $0.losesPrecision }
        case .object(let members): return members.values.contains { $0.losesPrecision }
        case .null, .bool, .integer, .string: return false
        }
    }
}
