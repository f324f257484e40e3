import Synchronization

/// A module version as the registry stores it, next to the messages.
public struct StoredModule: Sendable, Hashable {
    /// The aggregate's name, e.g. `BankAccount`.
    public var name: String
    /// The semantic version, as text.
    public var version: String
    /// The ESDL source it was published with.
    public var schema: String
    /// The wasm binary.
    public var wasm: [UInt8]
    /// When it was published.
    public var publishedAt: Timestamp

    public init(name: String, version: String, schema: String, wasm: [UInt8], publishedAt: Timestamp) {
        self.name = name
        self.version = version
        self.schema = schema
        self.wasm = wasm
        self.publishedAt = publishedAt
    }
}

/// A module version without its binary, for listings.
public struct StoredModuleSummary: Sendable, Hashable {
    public var name: String
    public var version: String
    public var publishedAt: Timestamp
    /// The size of the wasm binary in bytes.
    public var size: Int

    public init(name: String, version: String, publishedAt: Timestamp, size: Int) {
        self.name = name
        self.version = version
        self.publishedAt = publishedAt
        self.size = size
    }
}

/// Where the registry keeps published modules: in the same database as the messages, in
/// its own table (never inside `message_store`).
public protocol ModuleStorage: Sendable {
    /// Stores a module version.
    ///
    /// - Throws: ``MessageStoreError`` with code `duplicateMessageID` when this name and
    ///   version are already stored (nothing is changed).
    func saveModule(_ module: StoredModule) async throws

    /// Every stored version of every module, without binaries.
    func moduleSummaries() async throws -> [StoredModuleSummary]

    /// One stored version, with its binary.
    func loadModule(name: String, version: String) async throws -> StoredModule?
}

/// Module storage in memory, for tests and the in-memory store.
public final class InMemoryModuleStorage: ModuleStorage {
    private let modules = Mutex<[StoredModule]>([])

    public init() {}

    public func saveModule(_ module: StoredModule) async throws {
        try modules.withLock { modules throws(MessageStoreError) in
            if modules.contains(where: { $0.name == module.name && $0.version == module.version }) {
                throw MessageStoreError(.duplicateMessageID, "\(module.name) \(module.version) is already published")
            }
            modules.append(module)
        }
    }

    public func moduleSummaries() async throws -> [StoredModuleSummary] {
        modules.withLock {
            $0.map { StoredModuleSummary(name: $0.name, version: $0.version, publishedAt: $0.publishedAt, size: $0.wasm.count) }
        }
    }

    public func loadModule(name: String, version: String) async throws -> StoredModule? {
        modules.withLock { $0.first { $0.name == name && $0.version == version } }
    }
}
