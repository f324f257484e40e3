import Foundation
import JSON
import Logging
import MessageDB
import MessageStore
import TestSupport
import Testing

/// What only the PostgreSQL backend has: the installer, the server's own hash, connection errors.
@Suite("Message DB on PostgreSQL")
struct PostgresTests {
    @Test("consumer group assignment matches the server's hash_64 for many stream names")
    func partitionMatchesServer() async throws {
        let server = try await PostgresFixture.shared.cluster()
        var names: [String] = []
        for index in 0..<300 {
            switch index % 4 {
            case 0: names.append("account-\(index)")
            case 1: names.append("account-\(index)+\(index * 31)")
            case 2: names.append("bankAccount:command-\(UUID().uuidString.lowercased())")
            default: names.append("x-é\(index)ü")
            }
        }
        let values = names.map { "('\($0)')" }.joined(separator: ",")
        let output = try await server.psql(
            "SELECT name, message_store.hash_64(message_store.cardinal_id(name)), @message_store.hash_64(message_store.cardinal_id(name)) % 7 FROM (VALUES \(values)) AS t(name)",
            database: "thalo_template")
        var compared = 0
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: "|").map(String.init)
            guard parts.count == 3 else { continue }
            let stream = StreamName(unchecked: parts[0])
            #expect(Hash64.messageDB(stream.cardinalID!) == Int64(parts[1]), "hash of \(parts[0])")
            #expect(ConsumerGroup.partition(of: stream, size: 7) == Int64(parts[2]), "member of \(parts[0])")
            compared += 1
        }
        #expect(compared == names.count)
    }

    @Test("synchronousCommit off (thalo serve --durability os) turns synchronous_commit off on every connection; writes work")
    func synchronousCommitOff() async throws {
        let url = try await PostgresFixture.shared.freshDatabase()
        // The test cluster runs with synchronous_commit off; this database has it on, as a
        // production server would, so that only the store's own setting can turn it off.
        let database = try DatabaseURL(url).database
        try await PostgresFixture.shared.cluster().psql("ALTER DATABASE \"\(database)\" SET synchronous_commit = on")
        for synchronousCommit in [true, false] {
            try await MessageDBStore.withStore(configuration: .init(url: try DatabaseURL(url), synchronousCommit: synchronousCommit)) {
                store in
                // Several connections at once: each one has the setting, not only the first.
                try await withThrowingTaskGroup(of: String.self) { group in
                    for _ in 0..<4 {
                        group.addTask {
                            var values: [String] = []
                            let rows = try await store.client.query("SELECT current_setting('synchronous_commit') FROM pg_sleep(0.1)")
                            for try await value in rows.decode(String.self) { values.append(value) }
                            return values.joined()
                        }
                    }
                    for try await value in group { #expect(value == (synchronousCommit ? "on" : "off")) }
                }
                _ = try await store.write(NewMessage(type: "Written", data: [:]), to: "durability-1")
            }
        }
    }

    @Test(
        "an append is acknowledged only once committed: a commit that fails after the statement's rows is an error, not a write",
        arguments: [true, false])
    func acknowledgedOnlyWhenCommitted(oneRoundTrip: Bool) async throws {
        // A deferred constraint trigger fails the transaction at commit, which for a statement
        // outside BEGIN/COMMIT comes after its rows and CommandComplete: the same order as a
        // backend stopped by an immediate shutdown while committing. Both ways of writing: the
        // procedure that commits before it answers, and, without it (a registry from an earlier
        // Thalo), write_message and a confirming query.
        let server = try await PostgresFixture.shared.cluster()
        let database = "commit_fails_\(oneRoundTrip ? "call" : "confirm")"
        try await server.createDatabase(database, template: "thalo_template")
        _ = try await server.psql(
            """
            CREATE FUNCTION public.fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS
              $$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$;
            CREATE CONSTRAINT TRIGGER fail_at_commit AFTER INSERT ON message_store.messages
              DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.type = 'FailsAtCommit')
              EXECUTE FUNCTION public.fail_at_commit();
            \(oneRoundTrip ? "" : "DROP PROCEDURE thalo.write_message_committed;")
            """, database: database)
        // postgres-nio sometimes leaves the confirming query waiting on the connection that got
        // the error after CommandComplete (a connection that closes, as in a crash, fails it at
        // once): the store's deadline then answers `unavailable`. Either way, no acknowledgement.
        let url = try DatabaseURL(server.url(database: database))
        // With one round trip the answer is the commit's refusal: a long deadline, so that a slow
        // machine does not turn it into `unavailable`.
        try await MessageDBStore.withStore(configuration: .init(url: url, requestTimeout: .seconds(oneRoundTrip ? 120 : 3))) { store in
            let usesProcedure = try await store.commitsInOneRoundTrip()
            #expect(usesProcedure == oneRoundTrip)
            let error = await #expect(throws: MessageStoreError.self) {
                _ = try await store.append([NewMessage(type: "FailsAtCommit", data: [:])], to: "commit-1", expectedVersion: nil)
            }
            if oneRoundTrip { #expect(error?.message.contains("refused at commit") == true, "\(String(describing: error))") }
        }
        try await MessageDBStore.withStore(url: server.url(database: database)) { store in
            #expect(try await store.streamVersion("commit-1") == nil)
            // The database goes on: the next append is written and acknowledged.
            let written = try await store.append([NewMessage(type: "Written", data: [:])], to: "commit-1", expectedVersion: .noStream)
            #expect(written.recorded.map(\.position) == [0])
            #expect(try await store.readStream("commit-1").map(\.type) == ["Written"])
        }
    }

    @Test("the registry's reads, a publish and the cluster status give up after the store's deadline while their tables are held locked")
    func registryAndStatusHaveADeadline() async throws {
        let server = try await PostgresFixture.shared.cluster()
        let database = "registry_deadline"
        try await server.createDatabase(database, template: "thalo_template")
        let url = try DatabaseURL(server.url(database: database))
        try await MessageDBStore.withStore(configuration: .init(url: url, requestTimeout: .seconds(2))) { store in
            let coordinator = try MessageDBCoordinator(
                store: store, configuration: .init(nodeID: "a", partitions: 2, leaseDuration: .seconds(60)), logger: Logger(label: "test"))
            #expect(try await store.moduleSummaries().isEmpty)
            #expect(try await coordinator.status().nodes.isEmpty)
            // Other sessions hold the tables for up to a minute. Without a deadline the calls
            // below would wait for them and then answer: the test fails, it does not hang.
            let modules = try await server.holdLocked("thalo.modules", database: database)
            let nodes = try await server.holdLocked("thalo.nodes", database: database)
            let listing = await #expect(throws: MessageStoreError.self) { _ = try await store.moduleSummaries() }
            #expect(listing?.code == .unavailable, "\(String(describing: listing))")
            let loading = await #expect(throws: MessageStoreError.self) { _ = try await store.loadModule(name: "M", version: "1.0.0") }
            #expect(loading?.code == .unavailable, "\(String(describing: loading))")
            let module = StoredModule(name: "P", version: "1.0.0", schema: "", wasm: [0], publishedAt: .now())
            let publishing = await #expect(throws: MessageStoreError.self) { try await store.saveModule(module) }
            #expect(publishing?.code == .unavailable, "\(String(describing: publishing))")
            let status = await #expect(throws: MessageStoreError.self) { _ = try await coordinator.status() }
            #expect(status?.code == .unavailable, "\(String(describing: status))")
            // The holders go; everything answers again.
            try await modules.release()
            try await nodes.release()
            // The publish that gave up was waiting on its connection and goes through now, or,
            // on a loaded machine, its deadline passed before it was sent at all. Either way
            // the module ends up stored once: a retry stores it or is told it is there.
            do {
                try await store.saveModule(module)
            } catch let error as MessageStoreError where error.code == .duplicateMessageID {}
            #expect(try await store.moduleSummaries().map(\.name) == ["P"])
            let retry = await #expect(throws: MessageStoreError.self) { try await store.saveModule(module) }
            #expect(retry?.code == .duplicateMessageID, "\(String(describing: retry))")
            #expect(try await store.loadModule(name: "M", version: "1.0.0") == nil)
            #expect(try await coordinator.status().nodes.isEmpty)
        }
    }

    @Test("thalo serve's start-up checks give up after the deadline when the database stops answering, and pass once it answers")
    func startupChecksHaveADeadline() async throws {
        let url = try DatabaseURL(try await PostgresFixture.shared.freshDatabase())
        // One connection: the first check waits on the backend stopped below, the next ones
        // for the connection that check still holds.
        try await MessageDBStore.withStore(configuration: .init(url: url, maximumConnections: 1, requestTimeout: .seconds(2))) { store in
            try await MessageDBInstaller.prepare(on: store)
            var backend: Int32 = 0
            for try await pid in try await store.client.query("SELECT pg_backend_pid()").decode(Int32.self) { backend = pid }
            try #require(backend > 0)
            // The backend stops answering (as a database on a frozen machine would) for 20 s.
            // Without a deadline the checks would wait for it and then pass: the test fails,
            // it does not hang.
            #expect(kill(backend, SIGSTOP) == 0)
            let resume = Task {
                try? await Task.sleep(for: .seconds(20))
                kill(backend, SIGCONT)
            }
            let clock = ContinuousClock()
            let started = clock.now
            let error = await #expect(throws: MessageStoreError.self) { try await MessageDBInstaller.prepare(on: store) }
            #expect(error?.code == .unavailable, "\(String(describing: error))")
            // The registry's check alone gives up too.
            let registry = await #expect(throws: MessageStoreError.self) { try await store.prepareRegistry() }
            #expect(registry?.code == .unavailable, "\(String(describing: registry))")
            #expect(clock.now - started < .seconds(10))
            kill(backend, SIGCONT)
            resume.cancel()
            #expect(try await MessageDBInstaller.prepare(on: store) == .alreadyInstalled(version: try await store.messageStoreVersion()))
        }
    }

    @Test("the one-round-trip procedure dropped while the store runs: appends go on with two round trips, nothing lost or doubled")
    func procedureDroppedWhileRunning() async throws {
        let server = try await PostgresFixture.shared.cluster()
        try await server.createDatabase("procedure_dropped", template: "thalo_template")
        try await MessageDBStore.withStore(url: server.url(database: "procedure_dropped")) { store in
            #expect(try await store.commitsInOneRoundTrip())
            _ = try await store.append([NewMessage(type: "First", data: [:])], to: "thing-1", expectedVersion: .noStream)
            _ = try await server.psql("DROP PROCEDURE thalo.write_message_committed", database: "procedure_dropped")
            let second = try await store.append([NewMessage(type: "Second", data: [:])], to: "thing-1", expectedVersion: .version(0))
            #expect(second.recorded.map(\.position) == [1])
            let usesProcedure = try await store.commitsInOneRoundTrip()
            #expect(!usesProcedure)
            _ = try await store.append([NewMessage(type: "Third", data: [:])], to: "thing-1", expectedVersion: .version(1))
            await #expect(throws: MessageStoreError.self) {
                _ = try await store.append([NewMessage(type: "Stale", data: [:])], to: "thing-1", expectedVersion: .version(1))
            }
            #expect(try await store.readStream("thing-1").map(\.type) == ["First", "Second", "Third"])
        }
    }

    @Test("nodes starting at the same moment on a database without the registry all start; the registry is created once")
    func registryCreatedByNodesAtOnce() async throws {
        let server = try await PostgresFixture.shared.cluster()
        for round in 0..<4 {
            let database = "registry_race_\(round)"
            try await server.createDatabase(database)
            let url = server.url(database: database)
            try await MessageDBStore.withStore(url: url) { store in _ = try await MessageDBInstaller.install(on: store) }
            // Six nodes, each with its connection open, start together.
            let barrier = Barrier(count: 6)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        try await MessageDBStore.withStore(url: url) { store in
                            await barrier.arrive()
                            try await store.prepareRegistry()
                        }
                    }
                }
                try await group.waitForAll()
            }
            try await MessageDBStore.withStore(url: url) { store in
                #expect(try await store.commitsInOneRoundTrip())
                _ = try await store.append([NewMessage(type: "Opened", data: [:])], to: "thing-1", expectedVersion: .noStream)
            }
            let tables = try await server.psql(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'thalo'", database: database)
            #expect(tables.trimmingCharacters(in: .whitespacesAndNewlines) == "3")
        }
    }

    @Test("installing is idempotent and reports the version")
    func installIdempotent() async throws {
        let url = try await PostgresFixture.shared.freshDatabase()
        try await MessageDBStore.withStore(url: url) { store in
            let outcome = try await MessageDBInstaller.install(on: store)
            #expect(outcome == .alreadyInstalled(version: "1.3.0"))
        }
        let server = try await PostgresFixture.shared.cluster()
        try await server.createDatabase("empty_install")
        try await MessageDBStore.withStore(url: server.url(database: "empty_install")) { store in
            #expect(try await MessageDBInstaller.install(on: store) == .installed(version: "1.3.0"))
            #expect(try await MessageDBInstaller.install(on: store) == .alreadyInstalled(version: "1.3.0"))
            try await store.write(NewMessage(type: "T", data: ["a": 1]), to: "thing-1")
            #expect(try await store.readStream("thing-1").count == 1)
        }
    }

    @Test("an unreachable database is a clear connection error")
    func unreachable() async throws {
        let port = try TemporaryPostgres.freePort()
        let error = await #expect(throws: MessageStoreError.self) {
            try await MessageDBStore.withStore(url: "postgres://postgres@127.0.0.1:\(port)/nothing") { store in
                try await store.streamVersion("account-1")
            }
        }
        #expect(error?.code == .connectionFailed)
        #expect(error?.message.contains("cannot reach PostgreSQL") == true)
    }

    @Test("a database without the schema says how to install it")
    func missingSchema() async throws {
        let server = try await PostgresFixture.shared.cluster()
        try await server.createDatabase("no_schema")
        let error = await #expect(throws: MessageStoreError.self) {
            try await MessageDBStore.withStore(url: server.url(database: "no_schema")) { store in
                try await store.write(NewMessage(type: "T", data: ["a": 1]), to: "thing-1")
            }
        }
        #expect(error?.message.contains("thalo db install") == true)
    }

    @Test("database URLs are parsed, with defaults, and bad ones are rejected")
    func urls() throws {
        let url = try DatabaseURL("postgres://me:secret@db.example:6543/events?sslmode=require")
        #expect(url.host == "db.example")
        #expect(url.port == 6543)
        #expect(url.username == "me")
        #expect(url.password == "secret")
        #expect(url.database == "events")
        #expect(url.sslMode == "require")
        #expect(url.description == "postgres://me:***@db.example:6543/events")
        let local = try DatabaseURL("postgresql://postgres@127.0.0.1/")
        #expect(local.database == "postgres")
        #expect(local.sslMode == "disable")
        #expect(throws: MessageStoreError.self) { try DatabaseURL("mysql://x@y/z") }
        #expect(throws: MessageStoreError.self) { try DatabaseURL("postgres://x@y/z?sslmode=maybe") }
    }
}

/// Lets `count` tasks go on together once all of them arrived.
actor Barrier {
    private let count: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(count: Int) { self.count = count }

    func arrive() async {
        if waiting.count + 1 == count {
            for continuation in waiting { continuation.resume() }
            waiting.removeAll()
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }
}
