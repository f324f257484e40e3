import CSQLite
import MessageStore

/// The registry's table in the embedded store's file: `thalo_modules`.
extension SQLiteMessageStore: ModuleStorage {
    public func saveModule(_ module: StoredModule) async throws {
        try await withRegistryConnection { connection throws(MessageStoreError) in
            let connection = try connection.open(path: self.configuration.path)
            let statement = try connection.statement(
                "INSERT INTO thalo_modules (name, version, esdl, wasm, published_at) VALUES (?1, ?2, ?3, ?4, ?5)")
            statement.bind(1, module.name)
            statement.bind(2, module.version)
            statement.bind(3, module.schema)
            statement.bind(4, bytes: module.wasm)
            statement.bind(5, module.publishedAt.microsecondsSinceEpoch)
            do throws(MessageStoreError) {
                _ = try statement.step("publishing \(module.name) \(module.version)")
            } catch {
                if statement.extendedErrorCode == 1555 || statement.extendedErrorCode == 2067 {
                    throw MessageStoreError(.duplicateMessageID, "\(module.name) \(module.version) is already published")
                }
                throw error
            }
            statement.reset()
        }
    }

    public func moduleSummaries() async throws -> [StoredModuleSummary] {
        try await withRegistryConnection { connection throws(MessageStoreError) in
            let connection = try connection.open(path: self.configuration.path)
            let statement = try connection.statement(
                "SELECT name, version, published_at, length(wasm) FROM thalo_modules ORDER BY name, published_at")
            var summaries: [StoredModuleSummary] = []
            while try statement.step("listing modules") {
                summaries.append(
                    StoredModuleSummary(
                        name: statement.text(0), version: statement.text(1),
                        publishedAt: Timestamp(microsecondsSinceEpoch: statement.int64(2)), size: Int(statement.int64(3))))
            }
            statement.reset()
            return summaries
        }
    }

    public func loadModule(name: String, version: String) async throws -> StoredModule? {
        try await withRegistryConnection { connection throws(MessageStoreError) in
            let connection = try connection.open(path: self.configuration.path)
            let statement = try connection.statement(
                "SELECT esdl, wasm, published_at FROM thalo_modules WHERE name = ?1 AND version = ?2")
            statement.bind(1, name)
            statement.bind(2, version)
            defer { statement.reset() }
            guard try statement.step("loading \(name) \(version)") else { return nil }
            return StoredModule(
                name: name, version: version, schema: statement.text(0), wasm: statement.bytes(1),
                publishedAt: Timestamp(microsecondsSinceEpoch: statement.int64(2)))
        }
    }
}

extension SQLiteMessageStore {
    /// Runs a registry statement on the registry's connection, off the cooperative pool.
    func withRegistryConnection<T: Sendable>(
        _ body: @escaping @Sendable (LazyConnection) throws(MessageStoreError) -> T
    ) async throws(MessageStoreError) -> T {
        try await SQLiteThreads.run { () throws(MessageStoreError) -> T in
            try self.registryConnection.withLock { connection throws(MessageStoreError) in try body(connection) }
        }
    }
}

/// The registry's own connection, opened on first use.
///
/// `@unchecked Sendable`: only touched inside the store's mutex.
final class LazyConnection: @unchecked Sendable {
    private var connection: SQLiteConnection?

    func open(path: String) throws(MessageStoreError) -> SQLiteConnection {
        if let connection { return connection }
        let opened = try SQLiteConnection(path: path, readOnly: false)
        connection = opened
        return opened
    }
}
