import MessageStore

/// A message store that is also module storage, of any backend, for runtime tests.
public struct AnyModuleStore: ForwardingMessageStore, ModuleStorage {
    public let base: AnyMessageStore
    private let modules: any ModuleStorage

    public init(_ store: AnyMessageStore) {
        self.base = store
        self.modules = (store.base as? any ModuleStorage) ?? InMemoryModuleStorage()
    }

    public func appendChained(
        _ messages: [NewMessage], to stream: StreamName, expectedVersion: ExpectedVersion, after previous: ChainedAppend?
    ) -> ChainedAppend? {
        base.appendChained(messages, to: stream, expectedVersion: expectedVersion, after: previous)
    }
    public func saveModule(_ module: StoredModule) async throws { try await modules.saveModule(module) }
    public func moduleSummaries() async throws -> [StoredModuleSummary] { try await modules.moduleSummaries() }
    public func loadModule(name: String, version: String) async throws -> StoredModule? {
        try await modules.loadModule(name: name, version: version)
    }
}
