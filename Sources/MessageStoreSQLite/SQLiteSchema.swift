import CSQLite
import Foundation
import MessageStore

/// The embedded store's tables: Message DB's `messages` columns, plus columns computed at
/// write time so that category, correlation and consumer-group reads use an index.
enum SQLiteSchema {
    /// 2: streams without an id have the partition hash -1 (version 1 hashed their name).
    static let version = 2

    static let columns = "id, stream_name, type, position, global_position, data, metadata, time"

    static func install(on connection: SQLiteConnection, synchronous: SQLiteMessageStore.Synchronous) throws(MessageStoreError) {
        try connection.execute("PRAGMA journal_mode = WAL")
        try connection.execute("PRAGMA synchronous = \(synchronous.rawValue)")
        try connection.execute("PRAGMA foreign_keys = ON")
        try connection.execute(
            """
            CREATE TABLE IF NOT EXISTS messages (
              global_position INTEGER PRIMARY KEY AUTOINCREMENT,
              position INTEGER NOT NULL,
              time INTEGER NOT NULL,
              stream_name TEXT NOT NULL,
              category TEXT NOT NULL,
              partition_hash INTEGER NOT NULL,
              type TEXT NOT NULL,
              data TEXT NOT NULL,
              metadata TEXT,
              correlation_category TEXT,
              id TEXT NOT NULL
            );
            CREATE UNIQUE INDEX IF NOT EXISTS messages_id ON messages (id);
            CREATE UNIQUE INDEX IF NOT EXISTS messages_stream ON messages (stream_name, position);
            CREATE INDEX IF NOT EXISTS messages_category ON messages (category, global_position);
            CREATE TABLE IF NOT EXISTS thalo_modules (
              name TEXT NOT NULL,
              version TEXT NOT NULL,
              esdl TEXT NOT NULL,
              wasm BLOB NOT NULL,
              published_at INTEGER NOT NULL,
              PRIMARY KEY (name, version)
            );
            CREATE TABLE IF NOT EXISTS thalo_store (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT OR IGNORE INTO thalo_store (key, value) VALUES ('schema_version', '\(version)');
            """)
        try migrate(connection)
    }

    /// Brings a store written by an earlier version up to ``version``, once.
    private static func migrate(_ connection: SQLiteConnection) throws(MessageStoreError) {
        let statement = try connection.statement("SELECT value FROM thalo_store WHERE key = 'schema_version'")
        let stored = try statement.step("reading the store's schema version") ? statement.text(0) : "\(version)"
        statement.reset()
        guard stored == "1" else { return }
        // Message DB's cardinal_id is NULL for a stream without an id: no consumer group
        // member reads it, and -1 is no member's remainder.
        do {
            try connection.execute(
                """
                BEGIN IMMEDIATE;
                UPDATE messages SET partition_hash = -1 WHERE instr(stream_name, '-') = 0;
                UPDATE thalo_store SET value = '2' WHERE key = 'schema_version';
                COMMIT;
                """)
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
    }

    static func streamVersion(_ stream: String, on connection: SQLiteConnection) throws(MessageStoreError) -> Int64? {
        let statement = try connection.statement("SELECT max(position) FROM messages WHERE stream_name = ?1")
        statement.bind(1, stream)
        guard try statement.step("reading the version of \(stream)"), !statement.isNull(0) else {
            statement.reset()
            return nil
        }
        let version = statement.int64(0)
        statement.reset()
        return version
    }

    static func lastGlobalPosition(on connection: SQLiteConnection) throws(MessageStoreError) -> Int64 {
        let statement = try connection.statement("SELECT max(global_position) FROM messages")
        guard try statement.step("reading the last global position"), !statement.isNull(0) else {
            statement.reset()
            return 0
        }
        let position = statement.int64(0)
        statement.reset()
        return position
    }

    static func message(from statement: Statement) -> Message {
        Message(
            id: UUID(canonicalText: statement.text(0)) ?? UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
            streamName: StreamName(unchecked: statement.text(1)),
            type: statement.text(2),
            position: statement.int64(3),
            globalPosition: statement.int64(4),
            data: statement.text(5),
            metadata: statement.optionalText(6),
            time: Timestamp(microsecondsSinceEpoch: statement.int64(7)))
    }

    /// The value consumer groups take the remainder of: `abs(hash_64(cardinal_id))`, or -1
    /// for a stream without an id, whose remainder (-1) is no member's: Message DB's
    /// `cardinal_id` is NULL there, and no member reads it.
    static func partitionHash(_ stream: StreamName) -> Int64 {
        guard let cardinalID = stream.cardinalID else { return -1 }
        let hash = Hash64.messageDB(cardinalID)
        return Int64(min(hash.magnitude, UInt64(Int64.max)))
    }
}
