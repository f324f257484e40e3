import Foundation

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

    public func appendChained(
        _ messages: [NewMessage], to stream: StreamName, expectedVersion: ExpectedVersion, after previous: ChainedAppend?
    ) -> ChainedAppend? {
        base.appendChained(messages, to: stream, expectedVersion: expectedVersion, after: previous)
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
