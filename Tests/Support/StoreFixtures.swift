import Foundation
import Logging
import MessageDB
import MessageStore
import MessageStoreSQLite

/// The three message store backends, for tests that run one body against each, and
/// PostgreSQL with the official Message DB installed by its own installer (connected as
/// the superuser, or as the `message_store` role after `thalo db install`).
public enum Backend: String, CaseIterable, Sendable, CustomStringConvertible {
    case memory, sqlite, postgres
    case officialMessageDB = "official Message DB as superuser"
    case officialMessageDBRole = "official Message DB as role message_store"

    /// The three backends; the compatibility tests add ``officialMessageDBInstalls``.
    public static let allCases: [Backend] = [.memory, .sqlite, .postgres]

    /// PostgreSQL with the official Message DB, in both connection modes.
    public static let officialMessageDBInstalls: [Backend] = [.officialMessageDB, .officialMessageDBRole]

    public var description: String { rawValue }
}

/// A shared PostgreSQL cluster with a template database that has the schema installed;
/// each test gets a fresh database copied from it.
public actor PostgresFixture {
    public static let shared = PostgresFixture()

    private var starting: Task<TemporaryPostgres, any Error>?
    private var counter = 0

    /// The running cluster, started on first use (once, however many tests ask at once).
    public func cluster() async throws -> TemporaryPostgres {
        if let starting { return try await starting.value }
        let task = Task<TemporaryPostgres, any Error> {
            // initdb and pg_ctl take seconds: run them on a thread of their own.
            let server = try await TemporaryPostgres.start()
            try await server.createDatabase("thalo_template")
            try await MessageDBStore.withStore(url: server.url(database: "thalo_template")) { store in
                try await MessageDBInstaller.install(on: store)
            }
            return server
        }
        starting = task
        return try await task.value
    }

    /// A new database with the schema installed; returns its URL.
    public func freshDatabase() async throws -> String {
        let server = try await cluster()
        counter += 1
        let name = "test_\(counter)_\(UUID().uuidString.prefix(6).lowercased())"
        try await server.createDatabase(name, template: "thalo_template")
        return server.url(database: name)
    }
}

/// Runs `body` with a new, empty store of the given backend, and cleans up afterwards.
public func withStore<T: Sendable>(
    _ backend: Backend, allowSQLCondition: Bool = false,
    _ body: @Sendable (AnyMessageStore) async throws -> T
) async throws -> T {
    switch backend {
    case .memory:
        return try await body(AnyMessageStore(InMemoryMessageStore()))
    case .sqlite:
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("thalo-sqlite-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try SQLiteMessageStore(
            configuration: .init(path: folder.appendingPathComponent("messages.sqlite").path, allowSQLCondition: allowSQLCondition))
        defer { store.close() }
        return try await body(AnyMessageStore(store))
    case .postgres, .officialMessageDB, .officialMessageDBRole:
        let url: String
        switch backend {
        case .officialMessageDB: url = try await OfficialMessageDB.shared.freshDatabase(as: .superuser)
        case .officialMessageDBRole: url = try await OfficialMessageDB.shared.freshDatabase(as: .role)
        default: url = try await PostgresFixture.shared.freshDatabase()
        }
        return try await MessageDBStore.withStore(url: url, allowSQLCondition: allowSQLCondition) { store in
            // What `thalo serve` does at start: on the official install as superuser this
            // creates the registry; as the role it only checks that the role may use it.
            if backend != .postgres { try await MessageDBInstaller.prepare(on: store) }
            return try await body(AnyMessageStore(store))
        }
    }
}
