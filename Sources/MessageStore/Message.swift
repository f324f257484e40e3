import Foundation
import JSON

/// A message as stored: an event or a command, at a position in its stream and in the store.
public struct Message: Sendable, Hashable {
    /// The message's unique id.
    public var id: UUID
    /// The stream it was written to.
    public var streamName: StreamName
    /// Its type, e.g. `DepositedFunds`.
    public var type: String
    /// Its position in the stream: 0, 1, 2… without gaps.
    public var position: Int64
    /// Its position in the whole store; increasing, possibly with gaps.
    public var globalPosition: Int64
    /// The payload: JSON object text.
    public var data: String
    /// The metadata: JSON object text, or nil.
    public var metadata: String?
    /// When it was written (UTC, microseconds).
    public var time: Timestamp

    public init(
        id: UUID, streamName: StreamName, type: String, position: Int64, globalPosition: Int64,
        data: String, metadata: String?, time: Timestamp
    ) {
        self.id = id
        self.streamName = streamName
        self.type = type
        self.position = position
        self.globalPosition = globalPosition
        self.data = data
        self.metadata = metadata
        self.time = time
    }

    /// The payload parsed as JSON.
    public func dataJSON() throws(MessageStoreError) -> JSONValue {
        do {
            return try JSONValue(parsing: data)
        } catch {
            throw MessageStoreError(.invalidData, "message \(id) has data that is not valid JSON: \(error)")
        }
    }

    /// The metadata parsed into Eventide's keys; empty metadata when there is none.
    public func parsedMetadata() throws(MessageStoreError) -> Metadata {
        guard let metadata else { return Metadata() }
        return try Metadata(jsonText: metadata)
    }
}

/// A message to write: the store assigns its positions and time.
public struct NewMessage: Sendable, Hashable {
    /// The message's unique id; writing an id that is already in the store is an error.
    public var id: UUID
    /// Its type, e.g. `DepositedFunds`.
    public var type: String
    /// The payload: JSON object text.
    public var data: String
    /// The metadata: JSON object text, or nil.
    public var metadata: String?
    /// Set by a writer of this package that wrote `data` and `metadata` itself or parsed them
    /// already (the runtime, for the events a module returned): the store then does not parse
    /// them again. Not part of the message's identity.
    package var checkedJSON: CheckedJSON?

    /// A message with raw JSON text; the store checks that `data` (and `metadata`, if
    /// any) is a JSON object when it is written.
    public init(id: UUID = .random(), type: String, data: String, metadata: String? = nil) {
        self.id = id
        self.type = type
        self.data = data
        self.metadata = metadata
    }

    /// A message from JSON values.
    public init(id: UUID = .random(), type: String, data: JSONValue, metadata: Metadata? = nil) {
        self.id = id
        self.type = type
        self.data = data.jsonText
        self.metadata = metadata.flatMap { $0.isEmpty ? nil : $0.jsonText }
    }

    /// Checks what a store checks before writing: a non-empty type without control
    /// characters, data that is a JSON object, metadata that is a JSON object or absent.
    /// Returns the correlation stream name from the metadata, which category reads filter on
    /// (and Message DB indexes: it may not be longer than ``StreamName/maximumLength``).
    public func validate() throws(MessageStoreError) -> String? {
        let correlation = try validatedCorrelation()
        if let correlation, let length = StreamName.length(of: correlation, beyond: StreamName.maximumLength) {
            throw MessageStoreError(
                .invalidMetadata,
                "message \(id) (\(type)): the correlationStreamName is \(length) characters long; "
                    + "stream names have at most \(StreamName.maximumLength)")
        }
        return correlation
    }

    private func validatedCorrelation() throws(MessageStoreError) -> String? {
        if type.isEmpty { throw MessageStoreError(.invalidMessage, "message \(id): the type is empty") }
        if type.unicodeScalars.contains(where: { $0.value < 0x20 }) {
            throw MessageStoreError(.invalidMessage, "message \(id): the type contains a control character")
        }
        if let checkedJSON { return checkedJSON.correlationStreamName }
        let parsed: JSONValue
        do {
            parsed = try JSONValue(parsing: data)
        } catch {
            throw MessageStoreError(.invalidData, "message \(id) (\(type)): data is not valid JSON: \(error)")
        }
        guard case .object = parsed else {
            throw MessageStoreError(.invalidData, "message \(id) (\(type)): data must be a JSON object, found \(parsed.typeName)")
        }
        guard let metadata else { return nil }
        let meta: JSONValue
        do {
            meta = try JSONValue(parsing: metadata)
        } catch {
            throw MessageStoreError(.invalidMetadata, "message \(id) (\(type)): metadata is not valid JSON: \(error)")
        }
        switch meta {
        case .object(let members):
            return members["correlationStreamName"]?.stringValue
        case .null:
            return nil
        default:
            throw MessageStoreError(
                .invalidMetadata, "message \(id) (\(type)): metadata must be a JSON object or null, found \(meta.typeName)")
        }
    }
}

extension NewMessage {
    public static func == (left: NewMessage, right: NewMessage) -> Bool {
        left.id == right.id && left.type == right.type && left.data == right.data && left.metadata == right.metadata
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(id)
        hasher.combine(type)
        hasher.combine(data)
        hasher.combine(metadata)
    }
}

/// What the writer of a ``NewMessage`` vouches for: its `data` is a JSON object and its
/// `metadata` a JSON object or absent, with this correlation stream name in it.
package struct CheckedJSON: Sendable {
    package let correlationStreamName: String?

    package init(correlationStreamName: String?) {
        self.correlationStreamName = correlationStreamName
    }
}
