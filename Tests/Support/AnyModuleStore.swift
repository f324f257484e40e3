import MessageStore

/// A message store that is also module storage, of any backend, for runtime tests.
public struct AnyModuleStore: MessageStore, ModuleStorage {
    public let base: AnyMessageStore
    private let modules: any ModuleStorage

    public init(_ store: AnyMessageStore) {
        self.base = store
        self.modules = (store.base as? any ModuleStorage) ?? InMemoryModuleStorage()
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
    public func saveModule(_ module: StoredModule) async throws { try await modules.saveModule(module) }
    public func moduleSummaries() async throws -> [StoredModuleSummary] { try await modules.moduleSummaries() }
    public func loadModule(name: String, version: String) async throws -> StoredModule? {
        try await modules.loadModule(name: name, version: version)
    }
}
