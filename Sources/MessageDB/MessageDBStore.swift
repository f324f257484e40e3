import Foundation
import Logging
import MessageStore
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The PostgreSQL message store: Message DB's `message_store` schema, used only through
/// its server functions (`write_message`, `get_stream_messages`, `get_category_messages`,
/// `get_last_stream_message`, `stream_version`).
///
/// It works against the schema Thalo installs (``MessageDBInstaller``) and against an
/// official Message DB 1.3 install alike. It is a `Service`: its connection pool works only
/// while ``run()`` runs (in a `ServiceGroup`, or use ``withStore(url:logger:_:)``).
public final class MessageDBStore: MessageStore, Service {
    /// How to connect.
    public struct Configuration: Sendable {
        /// Where the database is.
        public var url: DatabaseURL
        /// The most connections the pool opens.
        public var maximumConnections: Int
        /// Sets `message_store.sql_condition` on every connection, so reads may pass a SQL
        /// `condition` (Message DB refuses them otherwise).
        public var allowSQLCondition: Bool

        /// How long one database call may take, waiting for a connection included, before it
        /// fails with `unavailable` (HTTP 503).
        public var requestTimeout: Duration

        /// Whether a commit waits for PostgreSQL to flush its WAL (`synchronous_commit`, on by
        /// default). Off, a crash of PostgreSQL or of the machine may lose the last commits
        /// (up to three times `wal_writer_delay`), never corrupting anything.
        public var synchronousCommit: Bool

        public init(
            url: DatabaseURL, maximumConnections: Int = 16, allowSQLCondition: Bool = false, requestTimeout: Duration = .seconds(30),
            synchronousCommit: Bool = true
        ) {
            self.synchronousCommit = synchronousCommit
            self.requestTimeout = requestTimeout
            self.url = url
            self.maximumConnections = maximumConnections
            self.allowSQLCondition = allowSQLCondition
        }
    }

    /// The `search_path` of every connection: the official Message DB's functions need it.
    public static let searchPath = "message_store, public"

    public let configuration: Configuration
    public let writeNotifier = WriteNotifier()
    /// The connection pool; usable while ``run()`` runs.
    public let client: PostgresClient
    let logger: Logger
    /// Whether appends call `thalo.write_message_committed` (see ``commitsInOneRoundTrip()``);
    /// `nil` until looked up.
    let writePath = Mutex<Bool?>(nil)

    public init(configuration: Configuration, logger: Logger = Logger(label: "thalo.messagedb")) throws {
        self.configuration = configuration
        self.logger = logger
        var clientConfiguration = try configuration.url.clientConfiguration()
        clientConfiguration.options.maximumConnections = configuration.maximumConnections
        clientConfiguration.options.minimumConnections = 0
        clientConfiguration.options.connectionIdleTimeout = .seconds(60)
        // The official Message DB's functions call each other (and name `messages`)
        // unqualified, relying on the caller's search_path; its `message_store` role gets
        // the right one from the default `"$user", public`, other roles do not. Setting it
        // on every connection makes them resolve whoever Thalo connects as. Thalo's own
        // queries qualify every name, so nothing else depends on it.
        var startup: [(String, String)] = [("application_name", "thalo"), ("search_path", Self.searchPath)]
        if configuration.allowSQLCondition { startup.append(("message_store.sql_condition", "on")) }
        if !configuration.synchronousCommit { startup.append(("synchronous_commit", "off")) }
        clientConfiguration.options.additionalStartupParameters = startup
        self.client = PostgresClient(configuration: clientConfiguration, backgroundLogger: logger)
    }

    /// Runs the connection pool until cancelled or until graceful shutdown.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.client.run()
        }
    }

    /// Opens one connection and closes it, to fail fast with a clear error when the
    /// database is unreachable or refuses the credentials (the pool would keep retrying).
    public func checkConnection(timeout: Duration = .seconds(10)) async throws {
        do {
            var connectionConfiguration = try configuration.url.connectionConfiguration()
            connectionConfiguration.options.connectTimeout = TimeAmount.nanoseconds(
                Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
            let connection = try await PostgresConnection.connect(
                configuration: connectionConfiguration, id: 0, logger: logger)
            try await connection.close()
        } catch {
            throw MessageDBErrors.translate(error, context: "connecting to \(configuration.url)")
        }
    }

    /// Connects, runs `body` with the store, and closes the pool afterwards.
    public static func withStore<T: Sendable>(
        url: String, allowSQLCondition: Bool = false, logger: Logger = Logger(label: "thalo.messagedb"),
        _ body: @Sendable (MessageDBStore) async throws -> T
    ) async throws -> T {
        try await withStore(
            configuration: Configuration(url: try DatabaseURL(url), allowSQLCondition: allowSQLCondition), logger: logger, body)
    }

    /// Like ``withStore(url:allowSQLCondition:logger:_:)``, with a whole configuration.
    public static func withStore<T: Sendable>(
        configuration: Configuration, logger: Logger = Logger(label: "thalo.messagedb"),
        _ body: @Sendable (MessageDBStore) async throws -> T
    ) async throws -> T {
        let store = try MessageDBStore(configuration: configuration, logger: logger)
        try await store.checkConnection()
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await store.client.run() }
            defer { group.cancelAll() }
            return try await body(store)
        }
    }

    // MARK: Writing

    /// Writes with `write_message` and reports each message's position, global position and
    /// time.
    ///
    /// One message (what a command usually writes) is one round trip: a `CALL` of
    /// `thalo.write_message_committed`, which calls `write_message`, commits, and only then
    /// answers with the position, the global position (from the sequence `write_message` just
    /// used) and the time (the transaction's), so nothing is read inside the category lock
    /// `write_message` holds until commit. Where that procedure is missing (a registry made by
    /// an earlier Thalo that the connected role may not change) it is `write_message` and a
    /// confirming query, two round trips (see ``committed(_:)``). Several messages are written
    /// in one transaction and read back with `get_stream_messages` after the commit (written
    /// messages never change, so that is exact).
    public func append(_ messages: [NewMessage], to stream: StreamName, expectedVersion: ExpectedVersion?) async throws -> WriteResult {
        _ = try MessageStoreArguments.checkWrite(messages, to: stream)
        let first: Int64
        let single: WriteResult.Recorded?
        do {
            (first, single) = try await withDeadline("writing to \(stream)") {
                guard messages.count == 1 else {
                    return (try await self.writeInTransaction(messages, to: stream, expectedVersion: expectedVersion), nil)
                }
                let recorded = try await self.writeCommitted(
                    WriteMessage(messages[0], to: stream, expectedVersion: expectedVersion?.value))
                return (recorded.position, recorded)
            }
        } catch {
            // A MessageStoreError (a deadline, a missing row) passes through unchanged.
            throw MessageDBErrors.translate(error, stream: stream, expectedVersion: expectedVersion, messages: messages)
        }
        writeNotifier.notify(category: stream.category)
        if let single { return WriteResult(recorded: [single]) }
        return try await recordedPositions(of: stream, from: first, count: messages.count)
    }

    /// Writes one message and returns once it is committed: one `CALL` where
    /// `thalo.write_message_committed` can be used, `write_message` and a confirming query
    /// otherwise.
    private func writeCommitted(_ message: WriteMessage) async throws -> WriteResult.Recorded {
        if try await commitsInOneRoundTrip() {
            do {
                return try await Self.recorded(client.execute(WriteMessageCommitted(message: message), logger: logger), message)
            } catch let error as PSQLError
                where error.serverInfo?[.sqlState] == "42883" && error.serverInfo?[.message]?.contains("write_message_committed") == true
            {
                // Dropped since it was found; nothing was written. Back to two round trips.
                writePath.withLock { $0 = false }
                logger.notice(
                    "the procedure thalo.write_message_committed is gone: each append confirms its commit with a second round trip")
            }
        }
        let statement = WriteMessageRecorded(message: message)
        return try await committed { connection in
            try await Self.recorded(connection.execute(statement, logger: self.logger), message)
        }
    }

    /// The one row a single write answers with.
    private static func recorded<Rows: AsyncSequence>(_ rows: Rows, _ message: WriteMessage) async throws -> WriteResult.Recorded
    where Rows.Element == WriteResult.Recorded {
        var recorded: WriteResult.Recorded?
        for try await row in rows { recorded = row }
        guard let recorded else { throw MessageStoreError(.storage, "write_message to \(message.streamName) returned no row") }
        return recorded
    }

    /// Whether a single append is one round trip: `thalo.write_message_committed` exists and
    /// the connected role may call it. Looked up once, at the first append (and again after
    /// ``prepareRegistry()`` or ``installRegistry(grantingTo:)`` adds the procedure).
    public func commitsInOneRoundTrip() async throws -> Bool {
        if let known = writePath.withLock({ $0 }) { return known }
        let rows = try await client.query(
            """
            SELECT coalesce(bool_or(has_schema_privilege(n.oid, 'USAGE') AND has_function_privilege(p.oid, 'EXECUTE')), false)
            FROM pg_catalog.pg_proc AS p JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
            WHERE n.nspname = 'thalo' AND p.proname = 'write_message_committed' AND p.prokind = 'p'
            """, logger: logger)
        var usable = false
        for try await value in rows.decode(Bool.self) { usable = value }
        writePath.withLock { $0 = usable }
        return usable
    }

    /// Forgets how appends are written, so the next one looks again.
    func resetWritePath() {
        writePath.withLock { $0 = nil }
    }

    /// Runs a statement that writes, in a transaction of its own, and returns once PostgreSQL
    /// has committed it.
    ///
    /// A statement outside `BEGIN`/`COMMIT` is committed at the protocol's Sync, after its rows
    /// and its CommandComplete; postgres-nio ends the statement at CommandComplete. A backend
    /// stopped in between (an immediate shutdown, or the crash of another backend) still
    /// sends what it had buffered, so the rows of a write that never committed could arrive.
    /// The query after it on the same connection runs only once the first is committed:
    /// its answer is the confirmation (found by `scripts/torture` with database restarts).
    func committed<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            let result = try await body(connection)
            for try await _ in try await connection.query("SELECT 1", logger: self.logger) {}
            return result
        }
    }

    /// `write_message` for each of several messages, in one transaction; returns the position
    /// of the first.
    private func writeInTransaction(_ messages: [NewMessage], to stream: StreamName, expectedVersion: ExpectedVersion?) async throws
        -> Int64
    {
        try await client.withTransaction(logger: logger) { connection in
            var expected = expectedVersion?.value
            var first: Int64?
            for message in messages {
                let position = try await self.writeOne(message, to: stream, expectedVersion: expected, on: connection)
                first = first ?? position
                expected = position
            }
            return first!
        }
    }

    /// `write_message` alone, returning only the position: what other Message DB clients
    /// do, and the baseline the benchmarks compare Thalo's own writes with. It returns at the
    /// statement's end, without the confirmation of the commit that ``append(_:to:expectedVersion:)``
    /// waits for (see ``committed(_:)``).
    @discardableResult
    public func writeMessage(_ message: NewMessage, to stream: StreamName, expectedVersion: ExpectedVersion? = nil) async throws -> Int64 {
        _ = try MessageStoreArguments.checkWrite([message], to: stream)
        do {
            let position = try await writeOne(message, to: stream, expectedVersion: expectedVersion?.value, on: nil)
            writeNotifier.notify(category: stream.category)
            return position
        } catch {
            throw MessageDBErrors.translate(error, stream: stream, expectedVersion: expectedVersion, messages: [message])
        }
    }

    func writeOne(
        _ message: NewMessage, to stream: StreamName, expectedVersion: Int64?, on connection: PostgresConnection?
    ) async throws -> Int64 {
        let statement = WriteMessage(message, to: stream, expectedVersion: expectedVersion)
        if let connection {
            for try await position in try await connection.execute(statement, logger: logger) { return position }
        } else {
            for try await position in try await client.execute(statement, logger: logger) { return position }
        }
        throw MessageStoreError(.storage, "write_message returned no position for \(stream)")
    }

    /// The positions of `count` committed messages from `position`; retried a few times, as
    /// the messages are already written when this runs.
    private func recordedPositions(of stream: StreamName, from position: Int64, count: Int) async throws -> WriteResult {
        var attempt = 0
        while true {
            do {
                var recorded: [WriteResult.Recorded] = []
                let rows = try await client.execute(
                    GetStreamPositions(streamName: stream.rawValue, position: position, batchSize: Int64(count)), logger: logger)
                for try await row in rows { recorded.append(row) }
                guard recorded.count == count else {
                    throw MessageStoreError(
                        .storage,
                        "\(count) message(s) were written to \(stream) from position \(position), but \(recorded.count) could be read back")
                }
                return WriteResult(recorded: recorded)
            } catch {
                attempt += 1
                guard attempt < 3 else {
                    throw MessageDBErrors.translate(
                        error, context: "reading back the positions of the messages written to \(stream) (they are written)")
                }
                try? await Task.sleep(for: .milliseconds(50 * attempt))
            }
        }
    }

    // MARK: Reading

    public func readStream(_ stream: StreamName, from position: Int64, batchSize: Int64, condition: String?) async throws -> [Message] {
        try MessageStoreArguments.checkStreamRead(stream)
        try MessageStoreArguments.checkRead(position: position, batchSize: batchSize, positionName: "position")
        return try await run("reading stream \(stream)") {
            if let condition {
                let rows = try await self.client.query(
                    "SELECT id, stream_name, type, position, global_position, data, metadata, time FROM message_store.get_stream_messages(\(stream.rawValue), \(position), \(batchSize), \(condition))",
                    logger: self.logger)
                return try await MessageRows.collect(rows)
            }
            let rows = try await self.client.execute(
                GetStreamMessages(streamName: stream.rawValue, position: position, batchSize: batchSize), logger: self.logger)
            var messages: [Message] = []
            for try await message in rows { messages.append(message) }
            return messages
        }
    }

    public func readCategory(
        _ category: String, from globalPosition: Int64, batchSize: Int64, correlation: String?,
        consumerGroup: ConsumerGroup?, condition: String?
    ) async throws -> [Message] {
        try MessageStoreArguments.checkCategoryRead(category, from: globalPosition, batchSize: batchSize, correlation: correlation)
        return try await run("reading category \(category)") {
            let rows = try await self.client.execute(
                GetCategoryMessages(
                    category: category, position: globalPosition, batchSize: batchSize, correlation: correlation,
                    member: consumerGroup?.member, size: consumerGroup?.size, condition: condition),
                logger: self.logger)
            var messages: [Message] = []
            for try await message in rows { messages.append(message) }
            return messages
        }
    }

    public func lastMessage(in stream: StreamName, type: String?) async throws -> Message? {
        try MessageStoreArguments.checkStream(stream)
        return try await run("reading the last message of \(stream)") {
            let rows = try await self.client.query(
                "SELECT id, stream_name, type, position, global_position, data, metadata, time FROM message_store.get_last_stream_message(\(stream.rawValue), \(type))",
                logger: self.logger)
            return try await MessageRows.collect(rows).first
        }
    }

    public func streamVersion(_ stream: StreamName) async throws -> Int64? {
        try MessageStoreArguments.checkStream(stream)
        return try await run("reading the version of \(stream)") {
            let rows = try await self.client.execute(StreamVersion(streamName: stream.rawValue), logger: self.logger)
            for try await version in rows { return version }
            return nil
        }
    }

    public func lastGlobalPosition() async throws -> Int64 {
        try await run("reading the last global position") {
            let rows = try await self.client.query(
                "SELECT coalesce(max(global_position), 0) FROM message_store.messages", logger: self.logger)
            for try await position in rows.decode(Int64.self) { return position }
            return 0
        }
    }

    /// The version of the installed Message DB schema (`message_store_version()`).
    public func messageStoreVersion() async throws -> String {
        try await run("reading the message store version") {
            let rows = try await self.client.query("SELECT message_store.message_store_version()", logger: self.logger)
            for try await version in rows.decode(String.self) { return version }
            throw MessageStoreError(.storage, "message_store_version() returned nothing")
        }
    }

    private func run<T: Sendable>(_ context: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        do {
            return try await withDeadline(context, body)
        } catch {
            throw MessageDBErrors.translate(error, context: context)
        }
    }

    /// Runs a database call, giving up after ``Configuration/requestTimeout`` with
    /// `unavailable`. While PostgreSQL is down the pool would hold each call for up to a
    /// minute before failing it; callers (HTTP clients, consumers) are better served by a
    /// prompt 503 and a retry, and the pool reconnects by itself when the database is back.
    /// The caller gets its answer at the deadline even from a call that ignores its
    /// cancellation (one left waiting on a connection that died in a restart): waiting for
    /// it stalled a consumer for good.
    func withDeadline<T: Sendable>(_ context: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let timeout = configuration.requestTimeout
        return try await withTimeout(
            timeout, context, timeoutMessage: { "PostgreSQL did not answer within \(timeout) while \(context); try again" }, body)
    }
}
