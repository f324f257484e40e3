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
}
