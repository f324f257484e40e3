import Foundation
import MessageDB
import MessageStore
import TestSupport
import Testing

/// Thalo on a database where the official Message DB 1.3 was installed by its own
/// `install.sh` (from the shared fixture): the installation stays as it was, and the
/// `message_store` role runs Thalo once `thalo db install` has made the registry.
@Suite("Official Message DB installation")
struct OfficialMessageDBTests {
    /// Everything in `message_store` that an installer could change: functions and their
    /// definitions, tables, sequences, views, indexes, types, privileges, owners and the
    /// role's settings, one line each, sorted.
    static let catalogSnapshot = """
        SELECT string_agg(item, E'\\n' ORDER BY item) FROM (
          SELECT 'function ' || p.oid::regprocedure::text || ' ' || md5(pg_get_functiondef(p.oid))
                 || ' owner=' || p.proowner::regrole::text || ' acl=' || coalesce(p.proacl::text, '')
          FROM pg_proc AS p WHERE p.pronamespace = 'message_store'::regnamespace
          UNION ALL
          SELECT 'relation ' || c.relname || ' ' || c.relkind::text || ' owner=' || c.relowner::regrole::text
                 || ' acl=' || coalesce(c.relacl::text, '')
          FROM pg_class AS c WHERE c.relnamespace = 'message_store'::regnamespace
          UNION ALL
          SELECT 'index ' || indexname || ' ' || md5(indexdef) FROM pg_indexes WHERE schemaname = 'message_store'
          UNION ALL
          SELECT 'view ' || viewname || ' ' || md5(definition) FROM pg_views WHERE schemaname = 'message_store'
          UNION ALL
          SELECT 'type ' || t.typname FROM pg_type AS t WHERE t.typnamespace = 'message_store'::regnamespace
          UNION ALL
          SELECT 'schema owner=' || nspowner::regrole::text || ' acl=' || coalesce(nspacl::text, '')
          FROM pg_namespace WHERE nspname = 'message_store'
          UNION ALL
          SELECT 'role ' || r.rolname || ' login=' || r.rolcanlogin || ' settings='
                 || coalesce((SELECT array_to_string(s.setconfig, ',') FROM pg_db_role_setting AS s WHERE s.setrole = r.oid), '')
          FROM pg_roles AS r WHERE r.rolname = 'message_store'
        ) AS snapshot(item)
        """

    static func databaseName(of url: String) -> String {
        String(URLComponents(string: url)!.path.dropFirst())
    }

    @Test("thalo db install and thalo serve's start change nothing in the official message_store schema")
    func installChangesNothing() async throws {
        let server = try await OfficialMessageDB.shared.cluster()
        let roleURL = try await OfficialMessageDB.shared.freshDatabase(as: .role, installRegistry: false)
        let database = Self.databaseName(of: roleURL)
        let adminURL = server.url(database: database)
        let before = try await server.psql(Self.catalogSnapshot, database: database)
        #expect(
            before.contains(
                "function message_store.write_message(character varying,character varying,character varying,jsonb,jsonb,bigint)"))
        #expect(before.contains("relation messages r owner=postgres"))

        let outcome = try await MessageDBStore.withStore(url: adminURL) { store in
            let outcome = try await MessageDBInstaller.install(on: store)
            #expect(try await store.registryGrantees() == ["message_store"])
            try await MessageDBInstaller.prepare(on: store)
            return outcome
        }
        #expect(outcome == .alreadyInstalled(version: "1.3.0"))
        try await MessageDBStore.withStore(url: roleURL) { store in
            #expect(try await MessageDBInstaller.prepare(on: store) == .alreadyInstalled(version: "1.3.0"))
            // The role may call the procedure that writes and commits in one round trip.
            #expect(try await store.commitsInOneRoundTrip())
            let written = try await store.append([NewMessage(type: "Opened", data: ["a": 1])], to: "thing-1", expectedVersion: .noStream)
            #expect(written.recorded.map(\.position) == [0])
            let read = try await store.readStream("thing-1")
            #expect(read.map(\.globalPosition) == written.recorded.map(\.globalPosition))
            #expect(read.map(\.time) == written.recorded.map(\.time))
        }
        let after = try await server.psql(Self.catalogSnapshot, database: database)
        #expect(after == before)
        // The registry is Thalo's own schema, owned by the administrator who installed it.
        let registry = try await server.psql(
            "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'thalo'", database: database)
        #expect(registry.trimmingCharacters(in: .whitespacesAndNewlines) == "postgres")
    }

    @Test("as the message_store role without a registry, the start fails naming the command an administrator runs")
    func roleWithoutRegistry() async throws {
        let server = try await OfficialMessageDB.shared.cluster()
        let roleURL = try await OfficialMessageDB.shared.freshDatabase(as: .role, installRegistry: false)
        let database = Self.databaseName(of: roleURL)
        let error = await #expect(throws: MessageStoreError.self) {
            try await MessageDBStore.withStore(url: roleURL) { store in
                try await MessageDBInstaller.prepare(on: store)
            }
        }
        let message = try #require(error?.message)
        #expect(message.contains("thalo.modules is missing and role message_store may not create it"), "\(message)")
        #expect(message.contains("permission denied"), "\(message)")
        #expect(
            message.contains(
                "thalo db install --database-url postgres://ADMIN@127.0.0.1:\(server.port)/\(database) --grant-to message_store"),
            "\(message)")

        // An administrator runs it once; then the role starts and can publish.
        try await MessageDBStore.withStore(url: server.url(database: database)) { store in
            let granted = try await store.installRegistry(grantingTo: ["message_store"])
            #expect(granted == ["message_store"])
        }
        try await MessageDBStore.withStore(url: roleURL) { store in
            try await MessageDBInstaller.prepare(on: store)
            try await store.saveModule(StoredModule(name: "Thing", version: "1.0.0", schema: "", wasm: [0], publishedAt: .now()))
            #expect(try await store.moduleSummaries().map(\.name) == ["Thing"])
        }
    }

    @Test("a registry from before the one-round-trip procedure: the role writes with two round trips until an administrator adds it")
    func registryWithoutProcedure() async throws {
        let server = try await OfficialMessageDB.shared.cluster()
        let roleURL = try await OfficialMessageDB.shared.freshDatabase(as: .role)
        let database = Self.databaseName(of: roleURL)
        _ = try await server.psql("DROP PROCEDURE thalo.write_message_committed", database: database)
        try await MessageDBStore.withStore(url: roleURL) { store in
            // The role may not create it in the administrator's schema: the start goes on.
            try await MessageDBInstaller.prepare(on: store)
            #expect(try await store.commitsInOneRoundTrip() == false)
            let written = try await store.append([NewMessage(type: "Opened", data: [:])], to: "thing-1", expectedVersion: .noStream)
            #expect(written.recorded.map(\.position) == [0])
            await #expect(throws: MessageStoreError.self) {
                _ = try await store.append([NewMessage(type: "Opened", data: [:])], to: "thing-1", expectedVersion: .noStream)
            }
        }
        let missing = try await server.psql(
            "SELECT count(*) FROM pg_proc WHERE proname = 'write_message_committed'", database: database)
        #expect(missing.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        let granted = try await MessageDBStore.withStore(url: server.url(database: database)) { store in
            try await store.installRegistry(grantingTo: ["message_store"])
        }
        #expect(granted == ["message_store"])
        try await MessageDBStore.withStore(url: roleURL) { store in
            #expect(try await store.commitsInOneRoundTrip())
            let written = try await store.append([NewMessage(type: "Deposited", data: [:])], to: "thing-1", expectedVersion: .version(0))
            #expect(written.recorded.map(\.position) == [1])
            #expect(try await store.readStream("thing-1").map(\.type) == ["Opened", "Deposited"])
        }
    }

    @Test("a role the registry was not granted to is told how to get the grant")
    func roleWithoutGrant() async throws {
        let server = try await OfficialMessageDB.shared.cluster()
        let roleURL = try await OfficialMessageDB.shared.freshDatabase(as: .role, installRegistry: false)
        let database = Self.databaseName(of: roleURL)
        try await MessageDBStore.withStore(url: server.url(database: database)) { store in
            let granted = try await store.installRegistry(grantingTo: [])
            #expect(granted.isEmpty)
        }
        let error = await #expect(throws: MessageStoreError.self) {
            try await MessageDBStore.withStore(url: roleURL) { store in
                try await MessageDBInstaller.prepare(on: store)
            }
        }
        #expect(
            error?.message.contains("role message_store may not use the module registry table thalo.modules") == true,
            "\(String(describing: error))")
        #expect(error?.message.contains("--grant-to message_store") == true)
    }
}
