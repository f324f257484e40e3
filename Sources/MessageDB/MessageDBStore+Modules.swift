import Foundation
import MessageStore
import PostgresNIO

/// The registry's table on PostgreSQL: `thalo.modules`, in Thalo's own schema, next to
/// (never inside) `message_store`.
extension MessageDBStore: ModuleStorage {
    /// Statements that create the registry's schema and table; idempotent.
    static let registryStatements = [
        "CREATE SCHEMA IF NOT EXISTS thalo",
        """
        CREATE TABLE IF NOT EXISTS thalo.modules (
          name text NOT NULL,
          version text NOT NULL,
          esdl text NOT NULL,
          wasm bytea NOT NULL,
          published_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
          PRIMARY KEY (name, version)
        )
        """,
    ]

    /// Creates the registry's table if it is missing.
    public func installRegistry() async throws {
        do {
            for statement in Self.registryStatements {
                try await client.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
        } catch {
            throw MessageDBErrors.translate(error, context: "creating the module registry table thalo.modules")
        }
    }

    public func saveModule(_ module: StoredModule) async throws {
        do {
            let published = module.publishedAt.date
            try await client.query(
                "INSERT INTO thalo.modules (name, version, esdl, wasm, published_at) VALUES (\(module.name), \(module.version), \(module.schema), \(ByteBuffer(bytes: module.wasm)), \(published))",
                logger: logger)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw MessageStoreError(.duplicateMessageID, "\(module.name) \(module.version) is already published")
        } catch {
            throw MessageDBErrors.translate(error, context: "publishing \(module.name) \(module.version)")
        }
    }

    public func moduleSummaries() async throws -> [StoredModuleSummary] {
        do {
            let rows = try await client.query(
                "SELECT name, version, published_at, octet_length(wasm) FROM thalo.modules ORDER BY name, published_at",
                logger: logger)
            var summaries: [StoredModuleSummary] = []
            for try await (name, version, published, size) in rows.decode((String, String, Date, Int32).self) {
                summaries.append(StoredModuleSummary(name: name, version: version, publishedAt: Timestamp(published), size: Int(size)))
            }
            return summaries
        } catch {
            throw MessageDBErrors.translate(error, context: "listing modules")
        }
    }

    public func loadModule(name: String, version: String) async throws -> StoredModule? {
        do {
            let rows = try await client.query(
                "SELECT esdl, wasm, published_at FROM thalo.modules WHERE name = \(name) AND version = \(version)",
                logger: logger)
            for try await (esdl, wasm, published) in rows.decode((String, ByteBuffer, Date).self) {
                return StoredModule(
                    name: name, version: version, schema: esdl, wasm: Array(buffer: wasm), publishedAt: Timestamp(published))
            }
            return nil
        } catch {
            throw MessageDBErrors.translate(error, context: "loading \(name) \(version)")
        }
    }
}
