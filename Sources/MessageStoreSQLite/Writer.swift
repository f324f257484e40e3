import CSQLite
import Foundation
import Logging
import MessageStore
import Synchronization

/// Groups the writer thread has taken (one transaction each, counted as it begins) and
/// the writes in them.
public struct GroupStatistics: Sendable {
    public var commits = 0
    public var writes = 0
    /// Checkpoints of the write-ahead log run on the checkpoint thread.
    public var backgroundCheckpoints = 0
    /// Checkpoints the writer ran itself: the log had reached four times its threshold.
    public var writerCheckpoints = 0
    /// The mean number of writes per group.
    public var meanGroupSize: Double { commits == 0 ? 0 : Double(writes) / Double(commits) }
}

/// One write waiting for the writer thread.
struct WriteRequest: Sendable {
    /// Who learns the outcome.
    enum Reply: Sendable {
        case caller(CheckedContinuation<WriteResult, any Error>)
        /// A chained append, which later writes may follow.
        case chained(ChainedAppend)
    }

    let stream: StreamName
    let messages: [NewMessage]
    let correlationCategories: [String?]
    let expectedVersion: ExpectedVersion?
    let reply: Reply
    /// The chained append this one follows: it is written only if that one was.
    var after: ChainedAppend? = nil

    func resume(with outcome: Result<WriteResult, any Error>) {
        switch reply {
        case .caller(let continuation): continuation.resume(with: outcome)
        case .chained(let chained): chained.resolve(outcome)
        }
    }

    func resume(throwing error: any Error) { resume(with: .failure(error)) }

    /// Notes that the write is applied in the open transaction (chained appends only).
    func recordApplied() {
        if case .chained(let chained) = reply { chained.record(.applied) }
    }

    /// Whether the append this one follows was written (in an earlier commit or earlier in
    /// this transaction); true when it follows none. Requests are taken in the order they were
    /// submitted, so the one it follows has been processed.
    var mayBeWritten: Bool {
        guard let after else { return true }
        let progress = after.progress
        return progress == .applied || progress == .committed
    }
}

/// The single writer: a thread that commits queued writes in groups (see
/// ``SQLiteMessageStore``).
///
/// `@unchecked Sendable`: the connection is used only by the writer thread; the queue is
/// guarded by `condition`.
final class Writer: @unchecked Sendable {
    private let connection: SQLiteConnection
    private let notifier: WriteNotifier
    private let maximumGroupSize: Int
    private let checkpointer: Checkpointer?
    private let logger: Logger
    private let condition = NSCondition()
    private var queue: [WriteRequest] = []
    private var stopped = false
    private let statistics = Mutex(GroupStatistics())
    /// For tests: an error to raise instead of running a statement (`BEGIN IMMEDIATE`,
    /// `SAVEPOINT write`, `RELEASE write`, `ROLLBACK TO write`, `COMMIT`), or nil to run it.
    /// Only read on the writer thread.
    let faultInjector: (@Sendable (String) -> MessageStoreError?)?

    init(
        connection: SQLiteConnection, notifier: WriteNotifier, maximumGroupSize: Int, checkpointer: Checkpointer?,
        logger: Logger, faultInjector: (@Sendable (String) -> MessageStoreError?)? = nil
    ) {
        self.checkpointer = checkpointer
        self.faultInjector = faultInjector
        self.connection = connection
        self.notifier = notifier
        self.maximumGroupSize = max(1, maximumGroupSize)
        self.logger = logger
        // The thread holds the writer until its loop ends (after `stop()`), so the writer
        // cannot be freed under it.
        let thread = Thread { self.loop() }
        thread.name = "thalo-sqlite-writer"
        thread.start()
    }

    func submit(_ request: WriteRequest) {
        condition.lock()
        if stopped {
            condition.unlock()
            request.resume(throwing: MessageStoreError(.unavailable, "the SQLite store is closed"))
            return
        }
        queue.append(request)
        condition.signal()
        condition.unlock()
    }

    func stop() {
        condition.withLock {
            stopped = true
            condition.broadcast()
        }
        checkpointer?.stop()
    }

    /// Commits, writes and checkpoints so far (for benchmarks and diagnostics).
    var groupStatistics: GroupStatistics {
        var group = statistics.withLock { $0 }
        if let checkpoints = checkpointer?.checkpoints {
            group.backgroundCheckpoints = checkpoints.background
            group.writerCheckpoints = checkpoints.writer
        }
        return group
    }

    private func loop() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopped { condition.wait() }
            if queue.isEmpty && stopped {
                condition.unlock()
                return
            }
            let count = min(queue.count, maximumGroupSize)
            let group = Array(queue.prefix(count))
            queue.removeFirst(count)
            condition.unlock()
            // Counted before the group's writers are resumed: whoever awaited a write and
            // then reads the statistics sees its group counted.
            statistics.withLock {
                $0.commits += 1
                $0.writes += group.count
            }
            commit(group)
        }
    }

    private enum Outcome {
        case written(WriteResult)
        case failed(MessageStoreError)
    }

    /// The group's transaction is in a state nobody can vouch for (a savepoint could not be
    /// rolled back or released, or SQLite rolled the whole transaction back after an I/O
    /// error or a full disk): nothing of the group may be acknowledged.
    private struct GroupFailed: Error {
        let error: MessageStoreError
    }

    private func commit(_ group: [WriteRequest]) {
        var outcomes: [Outcome] = []
        outcomes.reserveCapacity(group.count)
        var categories = Set<String>()
        do {
            try execute("BEGIN IMMEDIATE")
        } catch {
            for request in group { request.resume(throwing: error) }
            return
        }
        let time = Timestamp.now().microsecondsSinceEpoch
        do {
            for request in group {
                guard request.mayBeWritten else {
                    outcomes.append(
                        .failed(
                            MessageStoreError(
                                .wrongExpectedVersion,
                                "nothing written to \(request.stream): the append it was chained after was not written")))
                    continue
                }
                let outcome = try apply(request, time: time)
                if case .written = outcome {
                    request.recordApplied()
                    categories.insert(request.stream.category)
                }
                outcomes.append(outcome)
            }
            try execute("COMMIT")
        } catch {
            // Every request learns the truth: the transaction is rolled back (if SQLite has
            // not done so already), so none of them was written.
            let failure =
                (error as? GroupFailed)?.error ?? (error as? MessageStoreError)
                ?? MessageStoreError(.storage, "\(error)")
            if sqlite3_get_autocommit(connection.handle) == 0 { try? execute("ROLLBACK") }
            logger.error("SQLite group commit failed; no write of this group was acknowledged", metadata: ["error": "\(failure)"])
            for request in group {
                request.resume(throwing: MessageStoreError(.storage, "the write was not committed: \(failure.message)"))
            }
            return
        }
        // Readers waiting for the categories are told before the writers are resumed: a
        // writer that reads the notifier's count after its write sees its write counted.
        for category in categories { notifier.notify(category: category) }
        for (request, outcome) in zip(group, outcomes) {
            switch outcome {
            case .written(let result): request.resume(with: .success(result))
            case .failed(let error): request.resume(throwing: error)
            }
        }
    }

    /// Writes one request inside a savepoint, so that its failure undoes only itself.
    ///
    /// - Throws: ``GroupFailed`` when the group's transaction can no longer be trusted.
    private func apply(_ request: WriteRequest, time: Int64) throws(GroupFailed) -> Outcome {
        do {
            try execute("SAVEPOINT write")
        } catch {
            throw GroupFailed(error: error)
        }
        do {
            let result = try insert(request, time: time)
            do {
                try execute("RELEASE write")
            } catch {
                throw GroupFailed(error: error)
            }
            return .written(result)
        } catch let failure as GroupFailed {
            throw failure
        } catch {
            let failure = error as? MessageStoreError ?? MessageStoreError(.storage, "\(error)")
            // After an I/O error or a full disk SQLite may have rolled back the whole
            // transaction; then the earlier writes of the group are gone too.
            guard sqlite3_get_autocommit(connection.handle) == 0 else { throw GroupFailed(error: failure) }
            do {
                try execute("ROLLBACK TO write")
                try execute("RELEASE write")
            } catch {
                throw GroupFailed(error: error)
            }
            return .failed(failure)
        }
    }

    /// Runs a statement of the group protocol, through the fault injector in tests.
    private func execute(_ sql: String) throws(MessageStoreError) {
        if let fault = faultInjector?(sql) { throw fault }
        // Prepared once and reused: `sqlite3_exec` parsed these on every write.
        let statement = try connection.statement(sql)
        defer { statement.reset() }
        _ = try statement.step("running \(sql)")
    }

    private func insert(_ request: WriteRequest, time: Int64) throws(MessageStoreError) -> WriteResult {
        let stream = request.stream
        let current = try SQLiteSchema.streamVersion(stream.rawValue, on: connection)
        if let expected = request.expectedVersion, expected.value != (current ?? -1) {
            throw MessageStoreError.wrongExpectedVersion(expected: expected.value, stream: stream, actual: current)
        }
        let insert = try connection.statement(
            """
            INSERT INTO messages (position, time, stream_name, category, partition_hash, type, data, metadata,
              correlation_category, id)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
            """)
        let category = stream.category
        let partitionHash = SQLiteSchema.partitionHash(stream)
        var position = current ?? -1
        var recorded: [WriteResult.Recorded] = []
        recorded.reserveCapacity(request.messages.count)
        for (message, correlation) in zip(request.messages, request.correlationCategories) {
            position += 1
            insert.reset()
            insert.bind(1, position)
            insert.bind(2, time)
            insert.bind(3, stream.rawValue)
            insert.bind(4, category)
            insert.bind(5, partitionHash)
            insert.bind(6, message.type)
            insert.bind(7, message.data)
            insert.bind(8, message.metadata)
            insert.bind(9, correlation)
            insert.bind(10, message.id.lowercasedText)
            do {
                _ = try insert.step("writing to \(stream)")
            } catch {
                if insert.extendedErrorCode == 2067 /* SQLITE_CONSTRAINT_UNIQUE */,
                    connection.lastErrorMessage.contains("messages.id")
                {
                    throw MessageStoreError(
                        .duplicateMessageID,
                        "Duplicate message id \(message.id.lowercasedText): it is already in the store")
                }
                throw error
            }
            recorded.append(
                .init(
                    position: position, globalPosition: sqlite3_last_insert_rowid(connection.handle),
                    time: Timestamp(microsecondsSinceEpoch: time)))
        }
        insert.reset()
        return WriteResult(recorded: recorded)
    }
}
