import Logging
import MessageStore
import PostgresNIO

/// Installs Thalo's Message DB 1.3–compatible `message_store` schema.
///
/// Idempotent: on a database that already has the schema (Thalo's or the official
/// Message DB's) it changes nothing in `message_store`. It also creates Thalo's module
/// registry table, `thalo.modules`, in its own schema. Run it with a role that may create schemas (and, for
/// the `message_store` role, roles).
public enum MessageDBInstaller {
    /// What ``install(on:logger:)`` found and did.
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

    /// Installs the schema unless it is already there.
    @discardableResult
    public static func install(on store: MessageDBStore, logger: Logger = Logger(label: "thalo.messagedb")) async throws -> Outcome {
        do {
            try await store.installRegistry()
            if try await isInstalled(client: store.client, logger: logger) {
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
