import CSQLite
import Foundation
import Logging
import MessageStore
import Synchronization

/// The embedded message store: one SQLite file in WAL mode with Message DB's semantics.
///
/// **Durability.** Every acknowledged write has been committed with `synchronous=FULL`:
/// the write-ahead log is fsynced before ``write(_:to:expectedVersion:)`` returns, so an
/// acknowledged message survives a crash or power loss.
///
/// **Group commit.** All writes go through one writer thread. Writes that arrive while a
/// commit is in progress are committed together in the next transaction, each in its own
/// savepoint (so one failing write — a wrong expected version, a duplicate id — does not
/// affect the others), and share one fsync. Throughput therefore grows with the number of
/// concurrent writers instead of being one fsync per message.
///
/// **Checkpoints.** The write-ahead log is copied back into the database file on a thread
/// of its own (``Checkpointer``), not in the commit that crossed SQLite's threshold, so no
/// commit waits for a checkpoint until the log reaches four times the threshold.
///
/// **Reads** run on a pool of read-only connections; WAL lets them proceed while the
/// writer commits. Several processes may open the same file: SQLite serialises their
/// writes, so positions stay gapless and global positions stay ordered.
public final class SQLiteMessageStore: MessageStore {
    /// How the store opens its file.
    public struct Configuration: Sendable {
        /// The database file; created, with its folder, if missing.
        public var path: String
        /// Whether a write waits for the WAL fsync (`full`, the default) or only for the
        /// operating system's cache (`normal`: faster, may lose the last commits on power loss).
        public var synchronous: Synchronous
        /// Allow SQL `condition` arguments on reads (SQLite syntax), like Message DB's
        /// `message_store.sql_condition` setting. Off by default.
        public var allowSQLCondition: Bool
        /// The most writes committed in one transaction.
        public var maximumGroupSize: Int
        /// For fault-injection tests: called with each statement of the group-commit protocol
        /// (`BEGIN IMMEDIATE`, `SAVEPOINT write`, `RELEASE write`, `ROLLBACK TO write`,
        /// `COMMIT`), and with `CHECKPOINT` before each background checkpoint; an error it
        /// returns is raised instead of running the statement.
        public var faultInjector: (@Sendable (String) -> MessageStoreError?)?
        /// Write-ahead log pages (4 KiB each) after which the log is copied back into the
        /// database file (a checkpoint).
        public var checkpointPages: Int
        /// Whether checkpoints run on a thread of their own (the default), so that commits do
        /// not wait for them; the writer still checkpoints itself when the log reaches four
        /// times `checkpointPages`. When false, the writer checkpoints in the commit that
        /// crossed `checkpointPages`, as SQLite does by default.
        public var checkpointsInBackground: Bool

        public init(
            path: String, synchronous: Synchronous = .full, allowSQLCondition: Bool = false, maximumGroupSize: Int = 512,
            checkpointPages: Int = 1000, checkpointsInBackground: Bool = true
        ) {
            self.path = path
            self.synchronous = synchronous
            self.allowSQLCondition = allowSQLCondition
            self.maximumGroupSize = maximumGroupSize
            self.checkpointPages = checkpointPages
            self.checkpointsInBackground = checkpointsInBackground
        }
    }

    /// SQLite's `synchronous` setting for commits.
    public enum Synchronous: String, Sendable {
        case full = "FULL"
        case normal = "NORMAL"
    }

    public let configuration: Configuration
    public let writeNotifier = WriteNotifier()
    /// How many commits the writer made and how many writes they held (group commit at work).
    public var groupStatistics: GroupStatistics { writer.groupStatistics }
    private let writer: Writer
    private let readers: ReaderPool
    private let logger: Logger
    let registryConnection = Mutex(LazyConnection())

    /// Opens (or creates) the store at `path` with the default configuration.
    public convenience init(path: String, logger: Logger = Logger(label: "thalo.sqlite")) throws {
        try self.init(configuration: Configuration(path: path), logger: logger)
    }

    /// Opens (or creates) the store.
    ///
    /// - Throws: ``MessageStoreError`` (`connectionFailed`) when the file cannot be opened or created.
    public init(configuration: Configuration, logger: Logger = Logger(label: "thalo.sqlite")) throws {
        self.configuration = configuration
        self.logger = logger
        let folder = (configuration.path as NSString).deletingLastPathComponent
        if !folder.isEmpty && !FileManager.default.fileExists(atPath: folder) {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw MessageStoreError(
                    .connectionFailed, "cannot create the folder \(folder) for the SQLite store: \(error.localizedDescription)")
            }
        }
        let connection = try SQLiteConnection(path: configuration.path, readOnly: false)
        try SQLiteSchema.install(on: connection, synchronous: configuration.synchronous)
        var checkpointer: Checkpointer?
        if configuration.checkpointsInBackground {
            checkpointer = Checkpointer(
                watching: connection, synchronous: configuration.synchronous, frames: configuration.checkpointPages,
                logger: logger, faultInjector: configuration.faultInjector)
        } else {
            try connection.execute("PRAGMA wal_autocheckpoint = \(max(1, configuration.checkpointPages))")
        }
        self.writer = Writer(
            connection: connection, notifier: writeNotifier, maximumGroupSize: configuration.maximumGroupSize,
            checkpointer: checkpointer, logger: logger, faultInjector: configuration.faultInjector)
        self.readers = ReaderPool(path: configuration.path)
    }

    deinit {
        writer.stop()
    }

    /// Stops the writer thread; writes after this fail with `unavailable`.
    public func close() {
        writer.stop()
    }

    public func append(_ messages: [NewMessage], to stream: StreamName, expectedVersion: ExpectedVersion?) async throws -> WriteResult {
        let categories = try Self.correlationCategories(of: messages, to: stream)
        return try await withCheckedThrowingContinuation { continuation in
            writer.submit(
                WriteRequest(
                    stream: stream, messages: messages, correlationCategories: categories, expectedVersion: expectedVersion,
                    reply: .caller(continuation)))
        }
    }

    /// Checks a write's arguments; returns the category of each message's correlation stream.
    private static func correlationCategories(of messages: [NewMessage], to stream: StreamName) throws(MessageStoreError) -> [String?] {
        try MessageStoreArguments.checkWrite(messages, to: stream).map { $0.map { StreamName(unchecked: $0).category } }
    }

    /// Queues the append behind `previous` at once: the writer thread writes it only if
    /// `previous` was written, in the same commit when both are queued by then.
    public func appendChained(
        _ messages: [NewMessage], to stream: StreamName, expectedVersion: ExpectedVersion, after previous: ChainedAppend?
    ) -> ChainedAppend? {
        let chained = ChainedAppend()
        do {
            writer.submit(
                WriteRequest(
                    stream: stream, messages: messages, correlationCategories: try Self.correlationCategories(of: messages, to: stream),
                    expectedVersion: expectedVersion, reply: .chained(chained), after: previous))
        } catch {
            chained.resolve(.failure(error))
        }
        return chained
    }

    public func readStream(_ stream: StreamName, from position: Int64, batchSize: Int64, condition: String?) async throws -> [Message] {
        try MessageStoreArguments.checkStreamRead(stream)
        try MessageStoreArguments.checkRead(position: position, batchSize: batchSize, positionName: "position")
        let condition = try checkCondition(condition)
        return try await readers.withConnection { connection throws(MessageStoreError) in
            let sql =
                "SELECT \(SQLiteSchema.columns) FROM messages WHERE stream_name = ?1 AND position >= ?2"
                + (condition.map { " AND (\($0))" } ?? "") + " ORDER BY position LIMIT ?3"
            let statement = try condition == nil ? connection.statement(sql) : connection.uncachedStatement(sql)
            statement.bind(1, stream.rawValue)
            statement.bind(2, position)
            statement.bind(3, batchSize)
            return try Self.messages(from: statement, context: "reading stream \(stream)")
        }
    }

    public func readCategory(
        _ category: String, from globalPosition: Int64, batchSize: Int64, correlation: String?,
        consumerGroup: ConsumerGroup?, condition: String?
    ) async throws -> [Message] {
        try MessageStoreArguments.checkCategoryRead(category, from: globalPosition, batchSize: batchSize, correlation: correlation)
        let condition = try checkCondition(condition)
        return try await readers.withConnection { connection throws(MessageStoreError) in
            var sql = "SELECT \(SQLiteSchema.columns) FROM messages WHERE category = ?1 AND global_position >= ?2"
            if correlation != nil { sql += " AND correlation_category = ?4" }
            if consumerGroup != nil { sql += " AND partition_hash % ?5 = ?6" }
            if let condition { sql += " AND (\(condition))" }
            sql += " ORDER BY global_position LIMIT ?3"
            let statement = try condition == nil ? connection.statement(sql) : connection.uncachedStatement(sql)
            statement.bind(1, category)
            statement.bind(2, globalPosition)
            statement.bind(3, batchSize)
            if let correlation { statement.bind(4, correlation) }
            if let consumerGroup {
                statement.bind(5, consumerGroup.size)
                statement.bind(6, consumerGroup.member)
            }
            return try Self.messages(from: statement, context: "reading category \(category)")
        }
    }

    public func lastMessage(in stream: StreamName, type: String?) async throws -> Message? {
        try MessageStoreArguments.checkStream(stream)
        return try await readers.withConnection { connection throws(MessageStoreError) in
            let sql =
                "SELECT \(SQLiteSchema.columns) FROM messages WHERE stream_name = ?1"
                + (type == nil ? "" : " AND type = ?2") + " ORDER BY position DESC LIMIT 1"
            let statement = try connection.statement(sql)
            statement.bind(1, stream.rawValue)
            if let type { statement.bind(2, type) }
            return try Self.messages(from: statement, context: "reading the last message of \(stream)").first
        }
    }

    public func streamVersion(_ stream: StreamName) async throws -> Int64? {
        try MessageStoreArguments.checkStream(stream)
        return try await readers.withConnection { connection throws(MessageStoreError) in
            try SQLiteSchema.streamVersion(stream.rawValue, on: connection)
        }
    }

    public func lastGlobalPosition() async throws -> Int64 {
        try await readers.withConnection { connection throws(MessageStoreError) in
            try SQLiteSchema.lastGlobalPosition(on: connection)
        }
    }

    private func checkCondition(_ condition: String?) throws(MessageStoreError) -> String? {
        guard let condition else { return nil }
        guard configuration.allowSQLCondition else {
            throw MessageStoreError(
                .conditionNotAllowed,
                "Retrieval with SQL condition is not activated: enable it with allowSQLCondition in the SQLite store's configuration")
        }
        return condition
    }

    private static func messages(from statement: Statement, context: @autoclosure () -> String) throws(MessageStoreError) -> [Message] {
        var messages: [Message] = []
        while try statement.step(context()) {
            messages.append(SQLiteSchema.message(from: statement))
        }
        statement.reset()
        return messages
    }
}

/// Read-only connections, checked out by one read at a time. Reads run on their own
/// threads (``SQLiteThreads``), never on Swift's cooperative pool: a slow query blocks a
/// thread, and the pool's few threads serve every task of the process.
///
/// `@unchecked Sendable`: the connections are only touched while checked out, and the
/// list of idle ones is guarded by the mutex.
private final class ReaderPool: @unchecked Sendable {
    private let path: String
    private let idle = Mutex<[SQLiteConnection]>([])

    init(path: String) {
        self.path = path
    }

    func withConnection<T: Sendable>(
        _ body: @escaping @Sendable (SQLiteConnection) throws(MessageStoreError) -> T
    ) async throws(MessageStoreError) -> T {
        try await SQLiteThreads.run { () throws(MessageStoreError) -> T in try self.withConnectionNow(body) }
    }

    private func withConnectionNow<T>(_ body: (SQLiteConnection) throws(MessageStoreError) -> T) throws(MessageStoreError) -> T {
        let connection: SQLiteConnection
        if let reused = idle.withLock({ $0.popLast() }) {
            connection = reused
        } else {
            connection = try SQLiteConnection(path: path, readOnly: true)
        }
        defer { idle.withLock { $0.append(connection) } }
        return try body(connection)
    }
}
