import Foundation
import MessageDB

/// A throwaway PostgreSQL cluster with the **official** Message DB installed by its own
/// `install.sh`, from the fixture beside the repository (`../shared/fixtures/message-db`,
/// or `THALO_MESSAGE_DB_FIXTURE`). The fixture is only run, never copied or written to.
///
/// The pristine installation (database `message_store`) serves as the template of every
/// test database, so each test starts from exactly what the official installer made.
public actor OfficialMessageDB {
    public static let shared = OfficialMessageDB()

    /// How a test connects.
    public enum Connection: String, Sendable, CustomStringConvertible {
        /// As the superuser `postgres`; Thalo creates its registry itself.
        case superuser
        /// As the `message_store` role the official installer creates, after
        /// `thalo db install` was run by the superuser.
        case role

        public var description: String { rawValue }
    }

    /// The fixture folder (the one holding `database/install.sh`).
    public static let fixtureFolder: URL = {
        if let path = ProcessInfo.processInfo.environment["THALO_MESSAGE_DB_FIXTURE"] { return URL(fileURLWithPath: path) }
        return ExampleModules.repositoryRoot.deletingLastPathComponent()
            .appendingPathComponent("shared/fixtures/message-db")
    }()

    private var starting: Task<TemporaryPostgres, any Error>?
    private var counter = 0

    /// The cluster with the official Message DB installed, started on first use.
    public func cluster() async throws -> TemporaryPostgres {
        if let starting { return try await starting.value }
        let task = Task<TemporaryPostgres, any Error> {
            let installer = Self.fixtureFolder.appendingPathComponent("database/install.sh").path
            guard FileManager.default.fileExists(atPath: installer) else {
                throw TemporaryPostgresError(
                    "the official Message DB fixture is missing: no \(installer) (expected the shared fixtures beside the repository, or set THALO_MESSAGE_DB_FIXTURE)"
                )
            }
            let server = try await TemporaryPostgres.start()
            let output = try await ProcessRunner.output(
                "/bin/bash", [installer],
                environment: [
                    "PGHOST": "127.0.0.1", "PGPORT": String(server.port), "PGUSER": "postgres", "DATABASE_NAME": "message_store",
                ],
                currentDirectory: Self.fixtureFolder.path)
            guard output.status == 0 else {
                throw TemporaryPostgresError("the official Message DB install.sh failed (\(output.status)): \(output.combined)")
            }
            return server
        }
        starting = task
        return try await task.value
    }

    /// A new database copied from the pristine official installation; returns its URL for
    /// `connection`. For ``Connection/role`` the superuser first runs what
    /// `thalo db install` runs (unless `installRegistry` is false).
    public func freshDatabase(as connection: Connection, installRegistry: Bool = true) async throws -> String {
        let server = try await cluster()
        counter += 1
        let name = "official_\(counter)_\(UUID().uuidString.prefix(6).lowercased())"
        try await server.createDatabase(name, template: "message_store")
        switch connection {
        case .superuser:
            return server.url(database: name)
        case .role:
            if installRegistry {
                try await MessageDBStore.withStore(url: server.url(database: name)) { store in
                    try await MessageDBInstaller.install(on: store)
                }
            }
            return server.url(database: name, user: "message_store")
        }
    }
}
