import Foundation
import MessageStore
import PostgresNIO

/// The registry's table on PostgreSQL: `thalo.modules`, in Thalo's own schema, next to
/// (never inside) `message_store`.
extension MessageDBStore: ModuleStorage {
    /// Statements that create the registry's and the cluster's tables (``MessageDBCoordinator``); idempotent.
    static let registryTableStatements = [
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
        """
        CREATE TABLE IF NOT EXISTS thalo.nodes (
          id text PRIMARY KEY,
          lock_key integer NOT NULL,
          work text[] NOT NULL DEFAULT '{}',
          started_at timestamptz NOT NULL DEFAULT now(),
          last_heartbeat timestamptz NOT NULL DEFAULT now()
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS thalo.leases (
          category text NOT NULL,
          consumer text NOT NULL,
          partition integer NOT NULL,
          partitions integer NOT NULL,
          owner text,
          epoch bigint NOT NULL DEFAULT 0,
          expires_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (category, consumer, partition)
        )
        """,
    ]

    /// `write_message` and the commit, in one `CALL`: the append's one round trip (see
    /// ``MessageDBStore/append(_:to:expectedVersion:)``). It returns the position, the global
    /// position (the sequence value `write_message`'s insert just took, session-local) and
    /// the time (the transaction's, the column's default) only after its `COMMIT`, so a
    /// backend stopped before the commit has ended never sends them. A procedure may commit
    /// only without a `SET` clause or `SECURITY DEFINER`, so it runs with the caller's
    /// rights and `search_path`, as a direct `write_message` call would. Idempotent.
    static let writeCommittedProcedure = """
        CREATE OR REPLACE PROCEDURE thalo.write_message_committed(
          id varchar, stream_name varchar, type varchar, data jsonb, metadata jsonb, expected_version bigint,
          INOUT "position" bigint DEFAULT NULL, INOUT global_position bigint DEFAULT NULL, INOUT "time" timestamp DEFAULT NULL)
        LANGUAGE plpgsql AS $$
        BEGIN
          "position" := message_store.write_message(id, stream_name, type, data, metadata, expected_version);
          global_position := currval('message_store.messages_global_position_seq');
          "time" := now() AT TIME ZONE 'utc';
          COMMIT;
        END;
        $$
        """

    /// Creates the registry's schema and table if they are missing and lets `roles` use it
    /// (`USAGE` on the schema, `SELECT, INSERT` on the table). What `thalo db install` does;
    /// it needs a role that may create schemas in the database (an administrator).
    ///
    /// - Parameter roles: the roles Thalo runs as. `nil` means the `message_store` role
    ///   (the role Message DB clients use) when it exists and is not the current user.
    /// - Returns: the roles that were granted access.
    @discardableResult
    public func installRegistry(grantingTo roles: [String]? = nil) async throws -> [String] {
        do {
            return try await createRegistry(grantingTo: roles)
        } catch {
            throw MessageDBErrors.translate(error, context: "creating the module registry table thalo.modules")
        }
    }

    private func createRegistry(grantingTo roles: [String]?) async throws -> [String] {
        // CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema
        // exists, so a role without it must not even try once the registry is there.
        let access = try await registryAccess()
        if !access.exists {
            if !access.schemaExists {
                try await client.query("CREATE SCHEMA IF NOT EXISTS thalo", logger: logger)
            }
            for statement in Self.registryTableStatements {
                try await client.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
        }
        resetWritePath()
        if try await !commitsInOneRoundTrip() { try await createWriteCommittedProcedure() }
        var grantees = roles ?? []
        if roles == nil { grantees = try await defaultRegistryGrantees() }
        for role in grantees {
            let exists = try await client.query(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = \(role))", logger: logger)
            for try await found in exists.decode(Bool.self) where !found {
                throw MessageStoreError(
                    .invalidArgument, "role \(role) does not exist; create it first or name another role to grant the registry to")
            }
            let quoted = Self.quotedIdentifier(role)
            try await client.query(PostgresQuery(unsafeSQL: "GRANT USAGE ON SCHEMA thalo TO \(quoted)"), logger: logger)
            try await client.query(PostgresQuery(unsafeSQL: "GRANT SELECT, INSERT ON thalo.modules TO \(quoted)"), logger: logger)
            try await client.query(
                PostgresQuery(unsafeSQL: "GRANT SELECT, INSERT, UPDATE, DELETE ON thalo.nodes, thalo.leases TO \(quoted)"), logger: logger)
        }
        return grantees
    }

    /// Makes sure the connected role can use the registry, creating it when it is missing
    /// and the role may; what `thalo serve` does at start. Its checks give up after
    /// ``Configuration/requestTimeout``, like every other call, so a database that stops
    /// answering fails the start with `unavailable` instead of holding it. Creating the
    /// registry (once per database) has no deadline: its statements may wait for another
    /// node creating it at the same moment, and are not cut off halfway.
    ///
    /// - Throws: ``MessageStoreError`` naming the `thalo db install` command an
    ///   administrator runs when the registry is missing and cannot be created, or when the
    ///   role may not use it.
    public func prepareRegistry() async throws {
        let context = "checking the module registry table thalo.modules"
        let access: RegistryAccess
        do {
            access = try await withDeadline(context) { try await self.registryAccess() }
        } catch {
            throw MessageDBErrors.translate(error, context: context)
        }
        if access.exists {
            guard !access.usable else {
                return try await withDeadline("checking the procedure thalo.write_message_committed") {
                    await self.addWriteCommittedProcedureIfMissing(user: access.user)
                }
            }
            throw MessageStoreError(
                .storage,
                "role \(access.user) may not use the module registry table thalo.modules or the cluster tables thalo.nodes and thalo.leases; an administrator grants it with: \(installCommand(grantingTo: access.user))"
            )
        }
        do {
            _ = try await createRegistry(grantingTo: nil)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42501" {
            throw MessageStoreError(
                .storage,
                "\(access.modulesExists ? "the cluster tables thalo.nodes and thalo.leases are" : "the module registry table thalo.modules is") missing and role \(access.user) may not create it (\(error.serverInfo?[.message] ?? "permission denied")); an administrator creates it once with: \(installCommand(grantingTo: access.user))"
            )
        } catch {
            throw MessageDBErrors.translate(error, context: "creating the module registry table thalo.modules")
        }
    }

    /// Creates (or replaces) `thalo.write_message_committed`; the next append looks it up again.
    private func createWriteCommittedProcedure() async throws {
        defer { resetWritePath() }
        try await client.query(PostgresQuery(unsafeSQL: Self.writeCommittedProcedure), logger: logger)
    }

    /// Adds `thalo.write_message_committed` to a registry created before it existed, when
    /// the connected role may; without it appends take two round trips (logged once here).
    private func addWriteCommittedProcedureIfMissing(user: String) async {
        resetWritePath()
        guard (try? await commitsInOneRoundTrip()) == false else { return }
        do {
            try await createWriteCommittedProcedure()
        } catch {
            // Another node starting at the same time may have added it.
            if (try? await commitsInOneRoundTrip()) == true { return }
            let reason = (error as? PSQLError)?.serverInfo?[.message] ?? "\(error)"
            logger.notice(
                "the procedure thalo.write_message_committed is missing or not callable by \(user) and could not be added (\(reason)): each append confirms its commit with a second round trip; an administrator adds it with: \(installCommand(grantingTo: user))"
            )
        }
    }

    /// The roles other than the owner that may insert into the registry table.
    public func registryGrantees() async throws -> [String] {
        do {
            let rows = try await client.query(
                """
                SELECT r.rolname::text
                FROM pg_catalog.pg_roles AS r,
                  pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
                WHERE n.nspname = 'thalo' AND c.relname = 'modules' AND r.oid <> c.relowner
                  AND r.rolname !~ '^pg_' AND NOT r.rolsuper
                  AND has_table_privilege(r.oid, c.oid, 'INSERT')
                ORDER BY 1
                """, logger: logger)
            var names: [String] = []
            for try await name in rows.decode(String.self) { names.append(name) }
            return names
        } catch {
            throw MessageDBErrors.translate(error, context: "listing the roles that may use thalo.modules")
        }
    }

    /// Whether the registry table exists and whether the connected role may read and write it.
    struct RegistryAccess {
        var user: String
        var schemaExists: Bool
        var modulesExists: Bool
        /// All three tables exist.
        var exists: Bool
        var usable: Bool
    }

    func registryAccess() async throws -> RegistryAccess {
        // From the catalogs: to_regclass fails outright for a role without USAGE on the
        // schema. has_table_privilege with a list is true when any one is held: ask one by one.
        let rows = try await client.query(
            """
            WITH registry AS (
              SELECT c.oid AS rel, n.oid AS nsp, c.relname::text AS name
              FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
              WHERE n.nspname = 'thalo' AND c.relname IN ('modules', 'nodes', 'leases') AND c.relkind IN ('r', 'p')
            )
            SELECT current_user::text, EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'thalo'),
              EXISTS (SELECT 1 FROM registry WHERE name = 'modules'), (SELECT count(*) FROM registry) = 3,
              coalesce((SELECT bool_and(has_schema_privilege(nsp, 'USAGE') AND has_table_privilege(rel, 'SELECT')
                          AND has_table_privilege(rel, 'INSERT')
                          AND (name = 'modules' OR (has_table_privilege(rel, 'UPDATE') AND has_table_privilege(rel, 'DELETE'))))
                        FROM registry), false)
            """, logger: logger)
        for try await (user, schemaExists, modulesExists, exists, usable) in rows.decode((String, Bool, Bool, Bool, Bool).self) {
            return RegistryAccess(user: user, schemaExists: schemaExists, modulesExists: modulesExists, exists: exists, usable: usable)
        }
        throw MessageStoreError(.storage, "the registry check returned nothing")
    }

    /// `message_store` when that role exists and is not the one connected.
    func defaultRegistryGrantees() async throws -> [String] {
        let rows = try await client.query(
            "SELECT rolname::text FROM pg_catalog.pg_roles WHERE rolname = 'message_store' AND rolname <> current_user", logger: logger)
        var names: [String] = []
        for try await name in rows.decode(String.self) { names.append(name) }
        return names
    }

    /// The command an administrator runs to create the registry and grant it to `role`.
    func installCommand(grantingTo role: String) -> String {
        let url = configuration.url
        let place = url.socketPath.map { "localhost/\(url.database)?host=\($0)" } ?? "\(url.host):\(url.port)/\(url.database)"
        return "thalo db install --database-url postgres://ADMIN@\(place) --grant-to \(role)"
    }

    static func quotedIdentifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Publishes a version. Confirmed committed before it returns (see `committed(_:)`); like
    /// an append it gives up after ``Configuration/requestTimeout`` with `unavailable`, and
    /// then the version may or may not be stored (the registry takes the same module sent
    /// again as a retry).
    public func saveModule(_ module: StoredModule) async throws {
        do {
            let published = module.publishedAt.date
            try await withDeadline("publishing \(module.name) \(module.version)") {
                try await self.committed { connection in
                    _ = try await connection.query(
                        "INSERT INTO thalo.modules (name, version, esdl, wasm, published_at) VALUES (\(module.name), \(module.version), \(module.schema), \(ByteBuffer(bytes: module.wasm)), \(published))",
                        logger: self.logger)
                }
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw MessageStoreError(.duplicateMessageID, "\(module.name) \(module.version) is already published")
        } catch {
            throw MessageDBErrors.translate(error, context: "publishing \(module.name) \(module.version)")
        }
    }

    /// The published versions. Like the store's reads it gives up after
    /// ``Configuration/requestTimeout``: the runtime polls it every few seconds, and a query
    /// left on a dead connection would hold that poll for good.
    public func moduleSummaries() async throws -> [StoredModuleSummary] {
        do {
            return try await withDeadline("listing modules") {
                let rows = try await self.client.query(
                    "SELECT name, version, published_at, octet_length(wasm) FROM thalo.modules ORDER BY name, published_at",
                    logger: self.logger)
                var summaries: [StoredModuleSummary] = []
                for try await (name, version, published, size) in rows.decode((String, String, Date, Int32).self) {
                    summaries.append(
                        StoredModuleSummary(name: name, version: version, publishedAt: Timestamp(published), size: Int(size)))
                }
                return summaries
            }
        } catch {
            throw MessageDBErrors.translate(error, context: "listing modules")
        }
    }

    /// One published version, or nil; gives up after ``Configuration/requestTimeout``.
    public func loadModule(name: String, version: String) async throws -> StoredModule? {
        do {
            return try await withDeadline("loading \(name) \(version)") {
                let rows = try await self.client.query(
                    "SELECT esdl, wasm, published_at FROM thalo.modules WHERE name = \(name) AND version = \(version)",
                    logger: self.logger)
                for try await (esdl, wasm, published) in rows.decode((String, ByteBuffer, Date).self) {
                    return StoredModule(
                        name: name, version: version, schema: esdl, wasm: Array(buffer: wasm), publishedAt: Timestamp(published))
                }
                return nil
            }
        } catch {
            throw MessageDBErrors.translate(error, context: "loading \(name) \(version)")
        }
    }
}
