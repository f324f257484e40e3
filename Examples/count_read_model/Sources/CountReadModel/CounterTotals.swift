import Foundation
import GRDB
import JSON
import MessageStore
import ThaloRuntime

/// A read model of the Counter aggregate: a SQLite table `counter_totals` with one row per
/// counter, kept in sync with the `counter` category's events, through GRDB.
///
/// Idempotent: each row remembers the global position of the last event applied to it, and
/// an event at or below that position changes nothing, so a redelivered batch (delivery is
/// at least once) leaves the table as it was.
public final class CounterTotals: Projection, Sendable {
    public let categories = ["counter"]
    public let eventTypes: Set<String>? = ["Incremented", "Decremented"]

    /// A WAL database: other processes (the `sqlite3` shell, a dashboard) read while it writes.
    private let database: DatabasePool
    public let path: String

    /// Opens (or creates) the read model's database and brings its schema up to date.
    public init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        do {
            database = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(database)
        } catch {
            throw ReadModelError("cannot open the read model database at \(path): \(error)")
        }
    }

    /// The table's schema, one migration per change (GRDB records which ones ran).
    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("create counter_totals") { db in
            // `ifNotExists`: databases made before the migrator have the table already.
            try db.create(table: "counter_totals", ifNotExists: true) { table in
                table.primaryKey("counter_id", .text)
                table.column("count", .integer).notNull()
                table.column("events", .integer).notNull()
                table.column("last_global_position", .integer).notNull()
            }
        }
        return migrator
    }

    public func handle(_ message: Message) async throws {
        guard let id = message.streamName.id else { return }
        let data = try message.dataJSON()
        guard let count = data["count"]?.integerValue else {
            throw ReadModelError("\(message.type) at global position \(message.globalPosition) has no integer count")
        }
        // The event carries the new count: write it, unless this row has seen this event or
        // a later one already.
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO counter_totals (counter_id, count, events, last_global_position) VALUES (?, ?, 1, ?)
                    ON CONFLICT (counter_id) DO UPDATE SET count = excluded.count, events = events + 1,
                      last_global_position = excluded.last_global_position
                    WHERE excluded.last_global_position > counter_totals.last_global_position
                    """,
                arguments: [id, count, message.globalPosition])
        }
    }

    /// One row of the table.
    public struct Row: Sendable, Hashable, Decodable, FetchableRecord, TableRecord {
        public static let databaseTableName = "counter_totals"
        public var counterID: String
        public var count: Int64
        public var events: Int64
        public var lastGlobalPosition: Int64

        enum CodingKeys: String, CodingKey {
            case counterID = "counter_id"
            case count, events
            case lastGlobalPosition = "last_global_position"
        }
    }

    /// Every row, by counter id.
    public func rows() throws -> [Row] {
        try database.read { db in try Row.order(Column("counter_id")).fetchAll(db) }
    }
}

/// A read model failure, with what went wrong.
public struct ReadModelError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
