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

/// Where the messages of one write were recorded.
public struct WriteResult: Sendable, Hashable {
    /// Where one message was recorded.
    public struct Recorded: Sendable, Hashable {
        public var position: Int64
        public var globalPosition: Int64
        public var time: Timestamp

        public init(position: Int64, globalPosition: Int64, time: Timestamp) {
            self.position = position
            self.globalPosition = globalPosition
            self.time = time
        }
    }

    /// One entry per message, in the order written.
    public var recorded: [Recorded]

    public init(recorded: [Recorded]) {
        self.recorded = recorded
    }

    /// The stream position of the last message written: the stream's new version.
    public var lastPosition: Int64 { recorded.last?.position ?? -1 }
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

/// Argument checks that every backend applies the same way, with the same messages.
public enum MessageStoreArguments {
    /// Checks a stream name given to a read: a stream, not a category.
    public static func checkStream(_ stream: StreamName) throws(MessageStoreError) {
        if let problem = StreamName.problem(in: stream.rawValue) {
            throw MessageStoreError(.invalidStreamName, "invalid stream name \"\(stream.rawValue)\": \(problem)")
        }
    }

    /// Checks a category name given to a category read.
    /// The checks every backend's category read makes before touching storage.
    public static func checkCategoryRead(
        _ category: String, from globalPosition: Int64, batchSize: Int64, correlation: String?
    ) throws(MessageStoreError) {
        try checkCategory(category)
        try checkRead(position: globalPosition, batchSize: batchSize, positionName: "global position")
        try checkCorrelation(correlation)
    }

    public static func checkCategory(_ category: String) throws(MessageStoreError) {
        if let problem = StreamName.problem(in: category) {
            throw MessageStoreError(.invalidStreamName, "invalid category name \"\(category)\": \(problem)")
        }
        if category.contains("-") {
            throw MessageStoreError(
                .invalidStreamName, "\"\(category)\" is a stream name, not a category (a category has no '-')")
        }
    }

    /// Checks a correlation category.
    public static func checkCorrelation(_ correlation: String?) throws(MessageStoreError) {
        guard let correlation else { return }
        if correlation.contains("-") {
            throw MessageStoreError(.invalidArgument, "Correlation must be a category (Correlation: \(correlation))")
        }
    }

    /// Checks a read's start position and batch size.
    public static func checkRead(position: Int64, batchSize: Int64, positionName: String) throws(MessageStoreError) {
        if position < 0 {
            throw MessageStoreError(.invalidArgument, "\(positionName) must not be negative, got \(position)")
        }
        if batchSize == 0 || batchSize < -1 {
            throw MessageStoreError(
                .invalidArgument, "batch size must be positive, or -1 for no limit, got \(batchSize)")
        }
    }

    /// Checks the messages of a write and returns the correlation stream of each.
    public static func checkWrite(_ messages: [NewMessage], to stream: StreamName) throws(MessageStoreError) -> [String?] {
        if let problem = StreamName.problem(in: stream.rawValue) {
            throw MessageStoreError(.invalidStreamName, "invalid stream name \"\(stream.rawValue)\": \(problem)")
        }
        if messages.isEmpty {
            throw MessageStoreError(.invalidArgument, "nothing to write to \(stream.rawValue): the batch is empty")
        }
        var correlations: [String?] = []
        correlations.reserveCapacity(messages.count)
        var ids = Set<UUIDKey>()
        for message in messages {
            correlations.append(try message.validate())
            if !ids.insert(UUIDKey(message.id)).inserted {
                throw MessageStoreError(
                    .duplicateMessageID, "message id \(message.id.lowercasedText) appears twice in one batch")
            }
        }
        return correlations
    }
}

/// A hashable wrapper for UUIDs used in sets on hot paths.
struct UUIDKey: Hashable {
    let high: UInt64
    let low: UInt64
    init(_ id: UUID) {
        let bytes = id.uuid
        high = withUnsafeBytes(of: bytes) { $0.load(fromByteOffset: 0, as: UInt64.self) }
        low = withUnsafeBytes(of: bytes) { $0.load(fromByteOffset: 8, as: UInt64.self) }
    }
}

/// A message store of any backend behind one concrete type, for code that picks its
/// backend at run time (the CLI, tests) but calls generic APIs such as ``Subscription``.
public struct AnyMessageStore: MessageStore {
    /// The wrapped store.
    public let base: any MessageStore

    public init(_ base: any MessageStore) {
        if let already = base as? AnyMessageStore {
            self.base = already.base
        } else {
            self.base = base
        }
    }

    public var writeNotifier: WriteNotifier { base.writeNotifier }

    public func append(_ messages: [NewMessage], to stream: StreamName, expectedVersion: ExpectedVersion?) async throws -> WriteResult {
        try await base.append(messages, to: stream, expectedVersion: expectedVersion)
    }

    public func readStream(_ stream: StreamName, from position: Int64, batchSize: Int64, condition: String?) async throws -> [Message] {
        try await base.readStream(stream, from: position, batchSize: batchSize, condition: condition)
    }

    public func readCategory(
        _ category: String, from globalPosition: Int64, batchSize: Int64, correlation: String?,
        consumerGroup: ConsumerGroup?, condition: String?
    ) async throws -> [Message] {
        try await base.readCategory(
            category, from: globalPosition, batchSize: batchSize, correlation: correlation,
            consumerGroup: consumerGroup, condition: condition)
    }

    public func lastMessage(in stream: StreamName, type: String?) async throws -> Message? {
        try await base.lastMessage(in: stream, type: type)
    }

    public func streamVersion(_ stream: StreamName) async throws -> Int64? {
        try await base.streamVersion(stream)
    }

    public func lastGlobalPosition() async throws -> Int64 {
        try await base.lastGlobalPosition()
    }
}
