import CSQLite
import Foundation
import JSON
import MessageStore
import ThaloRuntime

/// A read model of the Counter aggregate: a SQLite table `counter_totals` with one row per
/// counter, kept in sync with the `counter` category's events.
///
/// Idempotent: each row remembers the global position of the last event applied to it, and
/// an event at or below that position changes nothing, so a redelivered batch (delivery is
/// at least once) leaves the table as it was.
public final class CounterTotals: Projection, @unchecked Sendable {
    // `@unchecked Sendable`: the connection is only used under `lock`.
    public let categories = ["counter"]
    public let eventTypes: Set<String>? = ["Incremented", "Decremented"]

    private let lock = NSLock()
    private let database: OpaquePointer
    public let path: String

    /// Opens (or creates) the read model's database.
    public init(path: String) throws {
        self.path = path
        var handle: OpaquePointer?
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil) == SQLITE_OK, let handle else {
            throw ReadModelError("cannot open the read model database at \(path)")
        }
        database = handle
        sqlite3_busy_timeout(handle, 10_000)
        try execute(
            """
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS counter_totals (
              counter_id TEXT PRIMARY KEY,
              count INTEGER NOT NULL,
              events INTEGER NOT NULL,
              last_global_position INTEGER NOT NULL
            );
            """)
    }

    deinit {
        sqlite3_close_v2(database)
    }

    public func handle(_ message: Message) async throws {
        guard let id = message.streamName.id else { return }
        let data = try message.dataJSON()
        guard let count = data["count"]?.integerValue else {
            throw ReadModelError("\(message.type) at global position \(message.globalPosition) has no integer count")
        }
        try lock.withLock {
            // The event carries the new count: write it, unless this row has seen this
            // event or a later one already.
            let sql = """
                INSERT INTO counter_totals (counter_id, count, events, last_global_position) VALUES (?1, ?2, 1, ?3)
                ON CONFLICT (counter_id) DO UPDATE SET count = excluded.count, events = events + 1,
                  last_global_position = excluded.last_global_position
                WHERE excluded.last_global_position > counter_totals.last_global_position
                """
            var statement: OpaquePointer?
            guard sqlite3_prepare_v2(database, sql, -1, &statement, nil) == SQLITE_OK else { throw error("preparing the upsert") }
            defer { sqlite3_finalize(statement) }
            sqlite3_bind_text(statement, 1, id, -1, unsafeBitCast(-1, to: sqlite3_destructor_type.self))
            sqlite3_bind_int64(statement, 2, count)
            sqlite3_bind_int64(statement, 3, message.globalPosition)
            guard sqlite3_step(statement) == SQLITE_DONE else { throw error("updating counter \(id)") }
        }
    }

    /// One row of the table.
    public struct Row: Sendable, Hashable {
        public var counterID: String
        public var count: Int64
        public var events: Int64
        public var lastGlobalPosition: Int64
    }

    /// Every row, by counter id.
    public func rows() throws -> [Row] {
        try lock.withLock {
            var statement: OpaquePointer?
            guard
                sqlite3_prepare_v2(
                    database, "SELECT counter_id, count, events, last_global_position FROM counter_totals ORDER BY counter_id", -1,
                    &statement, nil) == SQLITE_OK
            else { throw error("reading the table") }
            defer { sqlite3_finalize(statement) }
            var rows: [Row] = []
            while sqlite3_step(statement) == SQLITE_ROW {
                rows.append(
                    Row(
                        counterID: String(cString: sqlite3_column_text(statement, 0)), count: sqlite3_column_int64(statement, 1),
                        events: sqlite3_column_int64(statement, 2), lastGlobalPosition: sqlite3_column_int64(statement, 3)))
            }
            return rows
        }
    }

    private func execute(_ sql: String) throws {
        guard sqlite3_exec(database, sql, nil, nil, nil) == SQLITE_OK else { throw error("creating the table") }
    }

    private func error(_ doing: String) -> ReadModelError {
        ReadModelError("SQLite error while \(doing) in \(path): \(String(cString: sqlite3_errmsg(database)))")
    }
}

/// A read model failure, with what went wrong.
public struct ReadModelError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
