import Foundation
import Synchronization

/// A message store in memory, for tests and examples: the same semantics as the
/// durable stores, nothing kept after the process ends.
///
/// SQL conditions are not supported (there is no SQL); passing one is an error.
public final class InMemoryMessageStore: MessageStore {
    private struct Record {
        let message: Message
        let category: String
        let correlationCategory: String?
    }

    private struct State {
        var records: [Record] = []
        var streams: [String: [Int]] = [:]
        var categories: [String: [Int]] = [:]
        var ids: Set<UUIDKey> = []
    }

    private let state = Mutex(State())
    public let writeNotifier = WriteNotifier()

    private let modules = InMemoryModuleStorage()

    public init() {}

    public func append(_ messages: [NewMessage], to stream: StreamName, expectedVersion: ExpectedVersion?) async throws -> WriteResult {
        let correlations = try MessageStoreArguments.checkWrite(messages, to: stream)
        let time = Timestamp.now()
        let category = stream.category
        let result = try state.withLock { state throws(MessageStoreError) -> WriteResult in
            let current = state.streams[stream.rawValue].map { Int64($0.count - 1) }
            if let expectedVersion, expectedVersion.value != (current ?? -1) {
                throw MessageStoreError.wrongExpectedVersion(expected: expectedVersion.value, stream: stream, actual: current)
            }
            for message in messages where state.ids.contains(UUIDKey(message.id)) {
                throw MessageStoreError(
                    .duplicateMessageID, "Duplicate message id \(message.id.lowercasedText): it is already in the store")
            }
            var position = current ?? -1
            var recorded: [WriteResult.Recorded] = []
            for (message, correlation) in zip(messages, correlations) {
                position += 1
                let record = Record(
                    message: Message(
                        id: message.id, streamName: stream, type: message.type, position: position,
                        globalPosition: Int64(state.records.count + 1), data: message.data,
                        metadata: message.metadata, time: time),
                    category: category,
                    correlationCategory: correlation.map { StreamName(unchecked: $0).category })
                state.streams[stream.rawValue, default: []].append(state.records.count)
                state.categories[category, default: []].append(state.records.count)
                state.ids.insert(UUIDKey(message.id))
                state.records.append(record)
                recorded.append(.init(position: position, globalPosition: Int64(state.records.count), time: time))
            }
            return WriteResult(recorded: recorded)
        }
        writeNotifier.notify(category: category)
        return result
    }

    public func readStream(_ stream: StreamName, from position: Int64, batchSize: Int64, condition: String?) async throws -> [Message] {
        try MessageStoreArguments.checkStreamRead(stream)
        try MessageStoreArguments.checkRead(position: position, batchSize: batchSize, positionName: "position")
        try Self.rejectCondition(condition)
        return state.withLock { state in
            guard let indices = state.streams[stream.rawValue], position < indices.count else { return [] }
            let end = batchSize == -1 ? indices.count : min(indices.count, Int(position) + Int(batchSize))
            return indices[Int(position)..<end].map { state.records[$0].message }
        }
    }

    public func readCategory(
        _ category: String, from globalPosition: Int64, batchSize: Int64, correlation: String?,
        consumerGroup: ConsumerGroup?, condition: String?
    ) async throws -> [Message] {
        try MessageStoreArguments.checkCategoryRead(category, from: globalPosition, batchSize: batchSize, correlation: correlation)
        try Self.rejectCondition(condition)
        return state.withLock { state in
            guard let indices = state.categories[category] else { return [] }
            // Global position n is at records[n - 1], so binary-search the first index.
            var low = 0
            var high = indices.count
            while low < high {
                let middle = (low + high) / 2
                if Int64(indices[middle] + 1) < globalPosition { low = middle + 1 } else { high = middle }
            }
            var result: [Message] = []
            for index in indices[low...] {
                if batchSize != -1 && result.count >= batchSize { break }
                let record = state.records[index]
                if let correlation, record.correlationCategory != correlation { continue }
                if let consumerGroup, !consumerGroup.contains(record.message.streamName) { continue }
                result.append(record.message)
            }
            return result
        }
    }

    public func lastMessage(in stream: StreamName, type: String?) async throws -> Message? {
        try MessageStoreArguments.checkStream(stream)
        return state.withLock { state in
            guard let indices = state.streams[stream.rawValue] else { return nil }
            for index in indices.reversed() where type == nil || state.records[index].message.type == type {
                return state.records[index].message
            }
            return nil
        }
    }

    public func streamVersion(_ stream: StreamName) async throws -> Int64? {
        try MessageStoreArguments.checkStream(stream)
        return state.withLock { state in
            state.streams[stream.rawValue].map { Int64($0.count - 1) }
        }
    }

    public func lastGlobalPosition() async throws -> Int64 {
        state.withLock { Int64($0.records.count) }
    }

    private static func rejectCondition(_ condition: String?) throws(MessageStoreError) {
        if condition != nil {
            throw MessageStoreError(.conditionNotAllowed, "the in-memory store does not support SQL conditions")
        }
    }
}

extension InMemoryMessageStore: ModuleStorage {
    public func saveModule(_ module: StoredModule) async throws { try await modules.saveModule(module) }
    public func moduleSummaries() async throws -> [StoredModuleSummary] { try await modules.moduleSummaries() }
    public func loadModule(name: String, version: String) async throws -> StoredModule? {
        try await modules.loadModule(name: name, version: version)
    }
}
