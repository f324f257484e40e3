import MessageStore

/// A message store that hands its calls to `base`: a test's store implements only the calls
/// it changes. Chained appends are not forwarded (the protocol's default: no chaining), so
/// that every write meets the test's `append`; a store that wants them forwards them itself.
public protocol ForwardingMessageStore: MessageStore {
    var base: AnyMessageStore { get }
}

extension ForwardingMessageStore {
    public var writeNotifier: WriteNotifier { base.writeNotifier }

    public func append(_ messages: [NewMessage], to stream: StreamName, expectedVersion: ExpectedVersion?) async throws -> WriteResult {
        try await base.append(messages, to: stream, expectedVersion: expectedVersion)
    }

    public func readStream(_ stream: StreamName, from position: Int64, batchSize: Int64, condition: String?) async throws -> [Message] {
        try await base.readStream(stream, from: position, batchSize: batchSize, condition: condition)
    }

    public func readCategory(
        _ category: String, from globalPosition: Int64, batchSize: Int64, correlation: String?, consumerGroup: ConsumerGroup?,
        condition: String?
    ) async throws -> [Message] {
        try await base.readCategory(
            category, from: globalPosition, batchSize: batchSize, correlation: correlation, consumerGroup: consumerGroup,
            condition: condition)
    }

    public func lastMessage(in stream: StreamName, type: String?) async throws -> Message? {
        try await base.lastMessage(in: stream, type: type)
    }

    public func streamVersion(_ stream: StreamName) async throws -> Int64? { try await base.streamVersion(stream) }

    public func lastGlobalPosition() async throws -> Int64 { try await base.lastGlobalPosition() }
}
