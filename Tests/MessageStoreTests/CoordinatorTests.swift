import Foundation
import Logging
import MessageStore
import TestSupport
import Testing

@testable import MessageDB

@Suite("Cluster coordination on PostgreSQL")
struct CoordinatorTests {
    @Test("a node whose lock session ends stops handing messages over at once, and holds its partitions again at its next heartbeat")
    func lockSessionEnds() async throws {
        let url = try await PostgresFixture.shared.freshDatabase()
        try await MessageDBStore.withStore(url: url) { store in
            // A lease far longer than the test: only the lost session can make the node let go.
            let coordinator = try MessageDBCoordinator(
                store: store,
                configuration: .init(nodeID: "a", partitions: 2, heartbeatInterval: .seconds(1), leaseDuration: .seconds(60)),
                logger: Logger(label: "test"))
            try await coordinator.join()
            let work = [PartitionedCategory(category: "counter:command", consumer: "thalo")]
            let leases = try await coordinator.heartbeat(work: work).held
            #expect(leases.count == 2)
            #expect(leases.allSatisfy { coordinator.holds($0) })

            // End the node lock's session, as a database restart or a dropped connection does;
            // a peer probing the lock would now find it free and take the partitions.
            // (Only this database's: other tests hold node locks of their own on the cluster.)
            let database = try DatabaseURL(url).database
            let ended = try await PostgresFixture.shared.cluster().psql(
                """
                SELECT count(pg_terminate_backend(pid)) FROM pg_locks
                WHERE locktype = 'advisory' AND classid = \(MessageDBCoordinator.lockClass)
                  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                """, database: database)
            #expect(ended.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
            let deadline = ContinuousClock.now + .seconds(10)
            while leases.contains(where: { coordinator.holds($0) }) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(!leases.contains { coordinator.holds($0) }, "the node still hands messages over after losing its lock session")

            // The next heartbeat takes the lock again and renews the leases nobody took.
            let renewed = try await coordinator.heartbeat(work: work).held
            #expect(renewed == leases)
            #expect(leases.allSatisfy { coordinator.holds($0) })
            await coordinator.leave()
        }
    }

    @Test("the cluster status gives up after the store's deadline while a table it reads is held locked, and answers again after")
    func statusHasADeadline() async throws {
        let server = try await PostgresFixture.shared.cluster()
        let database = "status_deadline"
        try await server.createDatabase(database, template: "thalo_template")
        let url = try DatabaseURL(server.url(database: database))
        try await MessageDBStore.withStore(configuration: .init(url: url, requestTimeout: .seconds(2))) { store in
            let coordinator = try MessageDBCoordinator(
                store: store, configuration: .init(nodeID: "a", partitions: 2, leaseDuration: .seconds(60)), logger: Logger(label: "test"))
            #expect(try await coordinator.status().nodes.isEmpty)
            // Without a deadline the status would wait out the lock's minute and then answer.
            let lock = try await server.holdLocked("thalo.nodes", database: database)
            let error = await #expect(throws: MessageStoreError.self) { _ = try await coordinator.status() }
            #expect(error?.code == .unavailable, "\(String(describing: error))")
            try await lock.release()
            #expect(try await coordinator.status().nodes.isEmpty)
        }
    }
}
