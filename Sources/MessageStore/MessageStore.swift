import Foundation

/// A store of messages with Message DB's semantics: streams with gapless positions,
/// a global order, optimistic concurrency, category reads and consumer groups.
///
/// Three implementations share one conformance suite: ``InMemoryMessageStore`` (tests),
/// `SQLiteMessageStore` (the embedded default) and `MessageDBStore` (PostgreSQL).
/// Every method throws ``MessageStoreError``.
///
/// ```swift
/// let position = try await store.write(
///     [NewMessage(type: "Deposited", data: ["amount": 10])],
///     to: "account-123", expectedVersion: .noStream)
/// let messages = try await store.readStream("account-123")
/// ```
public protocol MessageStore: Sendable {
    /// Appends messages to one stream, all or none, and returns where each one was recorded.
    ///
    /// - Parameters:
    ///   - expectedVersion: when given, the stream's version must match it, or the write
    ///     fails with `wrongExpectedVersion` and nothing is written.
    /// - Throws: `wrongExpectedVersion`, `duplicateMessageID` (nothing written),
    ///   `invalidStreamName`, `invalidData`, `invalidMetadata`, or connection errors.
    func append(_ messages: [NewMessage], to stream: StreamName, expectedVersion: ExpectedVersion?) async throws -> WriteResult

    /// Hands the store an append to make after `previous` (an earlier chained append to the
    /// same store, or nil), without waiting for `previous` to be committed. The store applies
    /// it only if `previous` was written, so that a failure of `previous` fails it too, even
    /// when its expected version happens to match, and both may go into one commit. Its
    /// outcome comes through the returned object.
    ///
    /// Returns nil when the store cannot chain appends (the default): the caller then
    /// appends once `previous` is written.
    func appendChained(
        _ messages: [NewMessage], to stream: StreamName, expectedVersion: ExpectedVersion, after previous: ChainedAppend?
    ) -> ChainedAppend?

    /// Reads a stream from a position, in order (`get_stream_messages`).
    ///
    /// - Parameters:
    ///   - position: the first position to read (0 is the start).
    ///   - batchSize: the most messages to return; -1 for no limit.
    ///   - condition: a SQL condition, only where the store allows it.
    func readStream(_ stream: StreamName, from position: Int64, batchSize: Int64, condition: String?) async throws -> [Message]

    /// Reads a category from a global position, in global order (`get_category_messages`).
    ///
    /// - Parameters:
    ///   - category: a category name such as `account` or `account:command` (no `-`).
    ///   - globalPosition: the first global position to read (1 is the start).
    ///   - batchSize: the most messages to return; -1 for no limit.
    ///   - correlation: only messages whose metadata's `correlationStreamName` is in this category.
    ///   - consumerGroup: only the streams assigned to this member.
    func readCategory(
        _ category: String, from globalPosition: Int64, batchSize: Int64, correlation: String?,
        consumerGroup: ConsumerGroup?, condition: String?
    ) async throws -> [Message]

    /// The last message of a stream, optionally the last of a type (`get_last_stream_message`).
    func lastMessage(in stream: StreamName, type: String?) async throws -> Message?

    /// The position of a stream's last message, or nil when it has none (`stream_version`).
    func streamVersion(_ stream: StreamName) async throws -> Int64?

    /// The highest global position written so far, 0 for an empty store. Every message
    /// that a reader could have seen before this call is at or below it.
    func lastGlobalPosition() async throws -> Int64

    /// Signals writes made through this store, so live readers can wake at once.
    var writeNotifier: WriteNotifier { get }
}

extension MessageStore {
    /// Appends messages and returns the position of the last one.
    @discardableResult
    public func write(_ messages: [NewMessage], to stream: StreamName, expectedVersion: ExpectedVersion?) async throws -> Int64 {
        try await append(messages, to: stream, expectedVersion: expectedVersion).lastPosition
    }

    /// Appends one message and returns its position.
    @discardableResult
    public func write(_ message: NewMessage, to stream: StreamName, expectedVersion: ExpectedVersion? = nil) async throws -> Int64 {
        try await write([message], to: stream, expectedVersion: expectedVersion)
    }

    /// Appends messages without an expected version.
    @discardableResult
    public func write(_ messages: [NewMessage], to stream: StreamName) async throws -> Int64 {
        try await write(messages, to: stream, expectedVersion: nil)
    }

    /// Reads a stream with Message DB's defaults: from position 0, up to 1,000 messages.
    public func readStream(_ stream: StreamName, from position: Int64 = 0, batchSize: Int64 = 1000) async throws -> [Message] {
        try await readStream(stream, from: position, batchSize: batchSize, condition: nil)
    }

    /// Reads every message of a stream, in batches.
    public func readWholeStream(_ stream: StreamName, batchSize: Int64 = 1000) async throws -> [Message] {
        var messages: [Message] = []
        var position: Int64 = 0
        while true {
            let batch = try await readStream(stream, from: position, batchSize: batchSize, condition: nil)
            messages += batch
            guard let last = batch.last, batch.count == batchSize else { return messages }
            position = last.position + 1
        }
    }

    /// Reads a category with Message DB's defaults: from global position 1, up to 1,000 messages.
    public func readCategory(
        _ category: String, from globalPosition: Int64 = 1, batchSize: Int64 = 1000, correlation: String? = nil,
        consumerGroup: ConsumerGroup? = nil
    ) async throws -> [Message] {
        try await readCategory(
            category, from: globalPosition, batchSize: batchSize, correlation: correlation,
            consumerGroup: consumerGroup, condition: nil)
    }

    /// The last message of a stream.
    public func lastMessage(in stream: StreamName) async throws -> Message? {
        try await lastMessage(in: stream, type: nil)
    }
}
