import Foundation
import JSON
import MessageStore

/// A command for one entity of an aggregate.
///
/// ```swift
/// let request = CommandRequest(aggregate: "BankAccount", id: "123", command: "deposit_funds", payload: ["amount": 10])
/// let result = try await runtime.execute(request)
/// ```
public struct CommandRequest: Sendable {
    /// The aggregate's name (`BankAccount`) or its category (`bankAccount`).
    public var aggregate: String
    /// The entity id: the stream name after the category.
    public var id: String
    /// The command's name as written in the ESDL file, e.g. `deposit_funds`.
    public var command: String
    /// The parameters, a JSON object keyed by the ESDL parameter names.
    public var payload: JSONValue
    /// The command's id; repeating an id is idempotent. A new one is made when nil.
    public var commandID: UUID?
    /// Metadata passed through to the events (`correlationStreamName`, `replyStreamName`, …).
    public var metadata: Metadata?

    public init(aggregate: String, id: String, command: String, payload: JSONValue, commandID: UUID? = nil, metadata: Metadata? = nil) {
        self.aggregate = aggregate
        self.id = id
        self.command = command
        self.payload = payload
        self.commandID = commandID
        self.metadata = metadata
    }
}

/// An event as written to the entity's stream.
public struct RecordedEvent: Sendable, Hashable {
    public var id: UUID
    public var type: String
    /// The payload: JSON object text.
    public var data: String
    /// The metadata: JSON object text.
    public var metadata: String?
    public var streamName: StreamName
    public var position: Int64
    public var globalPosition: Int64
    public var time: Timestamp

    public init(_ message: Message) {
        self.init(
            id: message.id, type: message.type, data: message.data, metadata: message.metadata, streamName: message.streamName,
            position: message.position, globalPosition: message.globalPosition, time: message.time)
    }

    public init(
        id: UUID, type: String, data: String, metadata: String?, streamName: StreamName, position: Int64,
        globalPosition: Int64, time: Timestamp
    ) {
        self.id = id
        self.type = type
        self.data = data
        self.metadata = metadata
        self.streamName = streamName
        self.position = position
        self.globalPosition = globalPosition
        self.time = time
    }
}

extension RecordedEvent {
    /// The messages just appended to `stream`, where the store recorded them.
    static func written(_ messages: [NewMessage], _ result: WriteResult, to stream: StreamName) -> [RecordedEvent] {
        zip(messages, result.recorded).map { message, position in
            RecordedEvent(
                id: message.id, type: message.type, data: message.data, metadata: message.metadata, streamName: stream,
                position: position.position, globalPosition: position.globalPosition, time: position.time)
        }
    }
}

/// What handling a command did.
public enum CommandOutcome: Sendable, Hashable {
    /// The events were written (none when the command may return no event).
    case recorded([RecordedEvent])
    /// The command id was handled before: these are the events it wrote then; nothing new was written.
    case duplicate([RecordedEvent])
    /// The aggregate chose to ignore the command (for example a repeated delivery); nothing was written.
    case ignored(reason: String?)

    /// The events written for this command, now or before.
    public var events: [RecordedEvent] {
        switch self {
        case .recorded(let events), .duplicate(let events): events
        case .ignored: []
        }
    }
}

/// The result of ``Runtime/execute(_:)``.
public struct CommandResult: Sendable, Hashable {
    public var outcome: CommandOutcome
    /// The aggregate's name.
    public var aggregate: String
    /// The entity's event stream.
    public var streamName: StreamName
    public var commandID: UUID
    /// The module version that handled the command (for duplicates: the current one).
    public var moduleVersion: String
}

/// The result of ``Runtime/submit(_:)``: where the command was written.
public struct SubmitReceipt: Sendable, Hashable {
    public var commandID: UUID
    /// The entity's command stream, `{category}:command-{id}`.
    public var streamName: StreamName
    public var position: Int64
    public var globalPosition: Int64
    /// Whether a command with this id had already been submitted (nothing new was written).
    public var duplicate: Bool
}

/// An entity as it was at some point of its history.
public struct EntityView: Sendable, Hashable {
    public var aggregate: String
    public var streamName: StreamName
    /// The events up to the point asked for.
    public var events: [RecordedEvent]
    /// The stream version at that point (-1 when there were no events yet).
    public var version: Int64
    /// The module's JSON view of the state, when it exposes one.
    public var state: JSONValue?
    /// The module version that computed the state.
    public var moduleVersion: String
}

/// A point in an entity's history, for time travel.
public enum HistoryPoint: Sendable, Hashable {
    /// Everything.
    case latest
    /// Up to and including this stream position.
    case position(Int64)
    /// Events recorded at or before this time.
    case time(Timestamp)
    /// Up to this stream position and at or before this time, whichever comes first.
    case positionAndTime(Int64, Timestamp)

    /// Whether a message is past this point.
    func isPast(_ position: Int64, time: Timestamp) -> Bool {
        switch self {
        case .latest: false
        case .position(let last): position > last
        case .time(let last): time > last
        case .positionAndTime(let lastPosition, let lastTime): position > lastPosition || time > lastTime
        }
    }
}

extension UUID {
    /// The id of the `index`-th event of a command, derived from the command's id so that
    /// handling a command twice derives the same event ids and the store rejects the copy.
    ///
    /// A name-based UUID (version 3, MD5 of the command id and the index), except for a
    /// time-ordered command id (version 8, ``UUID/timeOrdered(at:)``, what Thalo gives a
    /// command sent without one): its events keep its first 48 bits, the time, and take
    /// the other bits from the same digest (version 8 too), so that events written together
    /// are neighbours in the store's index of ids. Both derivations are fixed: a change would
    /// let a command handled again after an upgrade through.
    static func derived(from commandID: UUID, index: Int) -> UUID {
        var name = "thalo-event-\(index)"
        var digest = withUnsafeBytes(of: commandID.uuid) { id in
            name.withUTF8 { Hash64.md5(id, UnsafeRawBufferPointer($0)) }
        }
        let timeOrdered = commandID.isTimeOrdered
        withUnsafeMutableBytes(of: &digest) { bytes in
            if timeOrdered {
                withUnsafeBytes(of: commandID.uuid) { id in
                    for index in 0..<6 { bytes[index] = id[index] }
                }
                bytes[6] = (bytes[6] & 0x0F) | 0x80
            } else {
                bytes[6] = (bytes[6] & 0x0F) | 0x30
            }
            bytes[8] = (bytes[8] & 0x3F) | 0x80
        }
        return UUID(uuid: digest)
    }

}

/// What identifies a command's request beyond its id: the command's name and payload.
///
/// Stored in the metadata of the events a command writes (`commandDigest`), so that a
/// command id reused for a different command or payload is refused instead of being
/// answered with the first command's events.
struct CommandDigest: Sendable, Hashable {
    let value: UInt64

    init(value: UInt64) { self.value = value }

    init(command: String, payloadText: String) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(command.utf8.count + 1 + payloadText.utf8.count)
        bytes += command.utf8
        bytes.append(0)
        bytes += payloadText.utf8
        self.value = bytes.withUnsafeBytes { Hash64.md5Prefix($0) }
    }

    /// 16 lowercase hexadecimal digits.
    var text: String {
        String(unsafeUninitializedCapacity: 16) { output in
            for index in 0..<16 {
                let nibble = UInt8(truncatingIfNeeded: value >> UInt64(60 - 4 * index)) & 0xF
                output[index] = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
            }
            return 16
        }
    }

    init?(text: some StringProtocol) {
        guard text.utf8.count == 16, let value = UInt64(text, radix: 16) else { return nil }
        self.value = value
    }
}
