import Foundation
import MessageStore
import PostgresNIO

/// `write_message`, prepared once per connection.
struct WriteMessage: PostgresPreparedStatement {
    static let name = "thalo_write_message"
    static let sql = "SELECT message_store.write_message($1, $2, $3, $4::jsonb, $5::jsonb, $6)"
    static let bindingDataTypes: [PostgresDataType] = [.varchar, .varchar, .varchar, .text, .text, .int8]
    typealias Row = Int64

    var id: String
    var streamName: String
    var type: String
    var data: String
    var metadata: String?
    var expectedVersion: Int64?

    init(_ message: NewMessage, to stream: StreamName, expectedVersion: Int64?) {
        id = message.id.lowercasedText
        streamName = stream.rawValue
        type = message.type
        data = message.data
        metadata = message.metadata
        self.expectedVersion = expectedVersion
    }

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 6)
        bindings.append(id)
        bindings.append(streamName)
        bindings.append(type)
        bindings.append(data)
        bindings.append(metadata)
        bindings.append(expectedVersion)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Int64 {
        try row.decode(Int64.self)
    }
}

/// A `get_stream_messages(stream_name, position, batch_size)` call.
protocol StreamRangeStatement: PostgresPreparedStatement {
    var streamName: String { get }
    var position: Int64 { get }
    var batchSize: Int64 { get }
}

extension StreamRangeStatement {
    static var bindingDataTypes: [PostgresDataType] { [.varchar, .int8, .int8] }

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 3)
        bindings.append(streamName)
        bindings.append(position)
        bindings.append(batchSize)
        return bindings
    }
}

/// A statement that calls `write_message` with a ``WriteMessage``'s arguments and answers with
/// the written message's position, global position and time.
protocol RecordedWriteStatement: PostgresPreparedStatement where Row == WriteResult.Recorded {
    var message: WriteMessage { get }
}

extension RecordedWriteStatement {
    static var bindingDataTypes: [PostgresDataType] { WriteMessage.bindingDataTypes }

    func makeBindings() throws -> PostgresBindings {
        try message.makeBindings()
    }

    func decodeRow(_ row: PostgresRow) throws -> WriteResult.Recorded {
        try GetStreamPositions.recorded(row)
    }
}

/// `write_message` and the written message's position, global position and time, in one
/// statement (one round trip), without reading the table: the global position is the value
/// `write_message`'s insert just took from the table's sequence (`currval`, session-local, on
/// which Message DB grants the `message_store` role SELECT), and the time is the column's
/// default, `now() AT TIME ZONE 'utc'`, the same for the whole transaction. A subquery with
/// a volatile function is not pulled up, so `write_message` runs before the outer columns.
/// The message is still written only by `write_message`. Its row arrives before the commit
/// (see ``MessageDBStore/committed(_:)``).
struct WriteMessageRecorded: RecordedWriteStatement {
    static let name = "thalo_write_message_recorded"
    static let sql = """
        SELECT written.position, currval('message_store.messages_global_position_seq'), now() AT TIME ZONE 'utc'
        FROM (SELECT message_store.write_message($1, $2, $3, $4::jsonb, $5::jsonb, $6) AS position) AS written
        """
    var message: WriteMessage
}

/// `write_message` and its commit in one round trip: `thalo.write_message_committed`
/// (``MessageDBStore/writeCommittedProcedure``) answers with the position, global position
/// and time only once committed.
struct WriteMessageCommitted: RecordedWriteStatement {
    static let name = "thalo_write_message_committed"
    static let sql = "CALL thalo.write_message_committed($1, $2, $3, $4::jsonb, $5::jsonb, $6, NULL, NULL, NULL)"
    var message: WriteMessage
}

/// The global positions and times of messages just written, read with
/// `get_stream_messages` once their transaction has committed.
struct GetStreamPositions: StreamRangeStatement {
    static let name = "thalo_get_stream_positions"
    static let sql = "SELECT position, global_position, time FROM message_store.get_stream_messages($1, $2, $3)"
    typealias Row = WriteResult.Recorded

    var streamName: String
    var position: Int64
    var batchSize: Int64

    func decodeRow(_ row: PostgresRow) throws -> WriteResult.Recorded {
        try Self.recorded(row)
    }

    /// A `(position, global_position, time)` row.
    static func recorded(_ row: PostgresRow) throws -> WriteResult.Recorded {
        let (position, globalPosition, time) = try row.decode((Int64, Int64, Date).self)
        return WriteResult.Recorded(
            position: position, globalPosition: globalPosition,
            time: Timestamp(microsecondsSinceEpoch: Int64((time.timeIntervalSince1970 * 1_000_000).rounded())))
    }
}

/// `get_stream_messages` without a condition.
struct GetStreamMessages: StreamRangeStatement {
    static let name = "thalo_get_stream_messages"
    static let sql =
        "SELECT id, stream_name, type, position, global_position, data, metadata, time FROM message_store.get_stream_messages($1, $2, $3)"
    typealias Row = Message

    var streamName: String
    var position: Int64
    var batchSize: Int64

    func decodeRow(_ row: PostgresRow) throws -> Message {
        try MessageRows.message(row)
    }
}

/// `get_category_messages` with every argument.
struct GetCategoryMessages: PostgresPreparedStatement {
    static let name = "thalo_get_category_messages"
    static let sql =
        "SELECT id, stream_name, type, position, global_position, data, metadata, time FROM message_store.get_category_messages($1, $2, $3, $4, $5, $6, $7)"
    static let bindingDataTypes: [PostgresDataType] = [.varchar, .int8, .int8, .varchar, .int8, .int8, .varchar]
    typealias Row = Message

    var category: String
    var position: Int64
    var batchSize: Int64
    var correlation: String?
    var member: Int64?
    var size: Int64?
    var condition: String?

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 7)
        bindings.append(category)
        bindings.append(position)
        bindings.append(batchSize)
        bindings.append(correlation)
        bindings.append(member)
        bindings.append(size)
        bindings.append(condition)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Message {
        try MessageRows.message(row)
    }
}

/// `stream_version`.
struct StreamVersion: PostgresPreparedStatement {
    static let name = "thalo_stream_version"
    static let sql = "SELECT message_store.stream_version($1)"
    static let bindingDataTypes: [PostgresDataType] = [.varchar]
    typealias Row = Int64?

    var streamName: String

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 1)
        bindings.append(streamName)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Int64? {
        try row.decode(Int64?.self)
    }
}

/// Decoding of Message DB's `message` rows.
enum MessageRows {
    static func message(_ row: PostgresRow) throws -> Message {
        let (id, streamName, type, position, globalPosition, data, metadata, time) = try row.decode(
            (String, String, String, Int64, Int64, String, String?, Date).self)
        return Message(
            id: UUID(canonicalText: id) ?? UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
            streamName: StreamName(unchecked: streamName), type: type, position: position,
            globalPosition: globalPosition, data: data, metadata: metadata,
            time: Timestamp(microsecondsSinceEpoch: Int64((time.timeIntervalSince1970 * 1_000_000).rounded())))
    }

    static func collect(_ rows: PostgresRowSequence) async throws -> [Message] {
        var messages: [Message] = []
        for try await row in rows { messages.append(try message(row)) }
        return messages
    }
}
