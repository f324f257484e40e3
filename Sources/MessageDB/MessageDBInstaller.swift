import Logging
import MessageStore
import PostgresNIO

/// Installs Thalo's Message DB 1.3–compatible `message_store` schema and Thalo's module
/// registry.
///
/// Idempotent: on a database that already has the schema (Thalo's or the official
/// Message DB's) it changes nothing in `message_store`. The registry table,
/// `thalo.modules`, lives in Thalo's own schema. ``install(on:grantingRegistryTo:logger:)``
/// is what `thalo db install` does, run once by a role that may create schemas (and, for
/// the `message_store` role, roles); ``prepare(on:logger:)`` is what `thalo serve` does, and
/// works without CREATE rights once the schema and registry are there.
public enum MessageDBInstaller {
    /// What ``install(on:grantingRegistryTo:logger:)`` found and did.
    public enum Outcome: Sendable, Equatable {
        /// The schema was created.
        case installed(version: String)
        /// A `message_store` schema was already there; nothing was changed.
        case alreadyInstalled(version: String)
    }

    /// Whether the database has a `message_store` schema with Message DB's functions.
    public static func isInstalled(client: PostgresClient, logger: Logger) async throws -> Bool {
        let rows = try await client.query(PostgresQuery(unsafeSQL: MessageStoreSchema.isInstalledQuery), logger: logger)
        for try await installed in rows.decode(Bool.self) { return installed }
        return false
    }

    /// Installs the schema unless it is already there, creates the registry if it is
    /// missing, and lets `roles` use the registry.
    ///
    /// - Parameter roles: the roles Thalo runs as; `nil` means the `message_store` role
    ///   when it exists (see ``MessageDBStore/installRegistry(grantingTo:)``).
    @discardableResult
    public static func install(
        on store: MessageDBStore, grantingRegistryTo roles: [String]? = nil, logger: Logger = Logger(label: "thalo.messagedb")
    ) async throws -> Outcome {
        let outcome = try await installSchema(on: store, logger: logger)
        try await store.installRegistry(grantingTo: roles)
        return outcome
    }

    /// Gets a database ready for `thalo serve`: installs the schema when it is missing and
    /// makes sure the connected role can use the registry (creating it when it may).
    ///
    /// A role without CREATE rights (such as the official installation's `message_store`)
    /// starts once an administrator has run `thalo db install`; before that the error
    /// names the command.
    @discardableResult
    public static func prepare(on store: MessageDBStore, logger: Logger = Logger(label: "thalo.messagedb")) async throws -> Outcome {
        let outcome = try await installSchema(on: store, logger: logger)
        try await store.prepareRegistry()
        return outcome
    }

    private static func installSchema(on store: MessageDBStore, logger: Logger) async throws -> Outcome {
        do {
            let installed = try await store.withDeadline("checking for the message_store schema") {
                try await isInstalled(client: store.client, logger: logger)
            }
            if installed {
                return .alreadyInstalled(version: try await store.messageStoreVersion())
            }
            try await store.client.withConnection { connection in
                for statement in MessageStoreSchema.installStatements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
            }
            logger.info("installed the message_store schema", metadata: ["database": "\(store.configuration.url)"])
            return .installed(version: try await store.messageStoreVersion())
        } catch {
            throw MessageDBErrors.translate(error, context: "installing the message_store schema")
        }
    }
}
