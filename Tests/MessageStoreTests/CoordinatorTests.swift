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
            let (coordinator, leases) = try await Self.joinedNode(store)
            let work = Self.work
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

    static let work = [PartitionedCategory(category: "counter:command", consumer: "thalo")]

    /// Node a, joined, holding both partitions of ``work`` after its first heartbeat.
    private static func joinedNode(_ store: MessageDBStore) async throws -> (MessageDBCoordinator, Set<PartitionLease>) {
        let node = try coordinator(store, id: "a")
        try await node.join()
        let leases = try await node.heartbeat(work: work).held
        #expect(leases.count == 2)
        return (node, leases)
    }

    private static func coordinator(_ store: MessageDBStore, id: String, partitions: Int = 2) throws -> MessageDBCoordinator {
        try MessageDBCoordinator(
            store: store,
            configuration: .init(nodeID: id, partitions: partitions, heartbeatInterval: .seconds(1), leaseDuration: .seconds(60)),
            logger: Logger(label: "test"))
    }

    /// Ends the sessions holding this database's node locks, as a dropped connection does.
    private static func endLockSessions(_ url: String) async throws -> Int {
        let database = try DatabaseURL(url).database
        let ended = try await PostgresFixture.shared.cluster().psql(
            """
            SELECT count(DISTINCT pid) FROM (SELECT pid, pg_terminate_backend(pid) FROM pg_locks
            WHERE locktype = 'advisory' AND classid = \(MessageDBCoordinator.lockClass)
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) AS ended
            """, database: database)
        return Int(ended.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    @Test("of two processes given one node id and joining at the same moment, one takes part and the other is refused")
    func sameNodeIDAtOnce() async throws {
        let url = try await PostgresFixture.shared.freshDatabase()
        try await MessageDBStore.withStore(url: url) { store in
            for round in 0..<10 {
                let first = try Self.coordinator(store, id: "twin-\(round)")
                let second = try Self.coordinator(store, id: "twin-\(round)")
                /// nil when the coordinator joined.
                @Sendable func join(_ coordinator: MessageDBCoordinator) async -> (any Error)? {
                    do {
                        try await coordinator.join()
                        return nil
                    } catch {
                        return error
                    }
                }
                async let joinedFirst = join(first)
                async let joinedSecond = join(second)
                let results = await [joinedFirst, joinedSecond]
                let refused = results.compactMap { $0 }
                #expect(refused.count == 1, "round \(round): \(refused)")
                let error = refused.first as? MessageStoreError
                #expect(error?.code == .nodeIDInUse, "\(refused)")
                #expect(error?.message.contains("node id twin-\(round) is in use by a running node") == true)
                // Once the node using the id leaves, the id is free again.
                let (member, other) = results[0] == nil ? (first, second) : (second, first)
                await member.leave()
                try await other.join()
                await other.leave()
            }
        }
    }

    @Test("a node whose id another process took while its lock session was gone stops at its next heartbeat and hands nothing back")
    func nodeIDTakenWhileAway() async throws {
        let url = try await PostgresFixture.shared.freshDatabase()
        try await MessageDBStore.withStore(url: url) { store in
            let (away, leases) = try await Self.joinedNode(store)
            let work = Self.work
            #expect(try await Self.endLockSessions(url) == 1)
            // A second process with the id starts while the first is cut off, and carries on
            // its partitions (they are the id's).
            let successor = try Self.coordinator(store, id: "a")
            try await successor.join()
            #expect(try await successor.heartbeat(work: work).held == leases)
            let refused = await #expect(throws: MessageStoreError.self) { try await away.heartbeat(work: work) }
            #expect(refused?.code == .nodeIDInUse)
            #expect(!leases.contains { away.holds($0) })
            // Leaving hands back nothing: the partitions stay the successor's.
            await away.leave()
            let owners = try await successor.status().partitions.filter { $0.category == "counter:command" }.map(\.owner)
            #expect(owners == ["a", "a"])
            #expect(leases.allSatisfy { successor.holds($0) })
            #expect(try await successor.heartbeat(work: work).held == leases)
            await successor.leave()
        }
    }

    @Test("a lock session of the node's own left behind by a lost connection is ended, and the node carries on with its partitions")
    func ownLeftoverSession() async throws {
        let url = try await PostgresFixture.shared.freshDatabase()
        try await MessageDBStore.withStore(url: url) { store in
            let (node, leases) = try await Self.joinedNode(store)
            let work = Self.work
            // Its session, and the locks on its id and key, live on without the node.
            await node.abandonLockConnection()
            let renewed = try await node.heartbeat(work: work).held
            #expect(renewed == leases)
            // The ended session's close suspends the leases once more; the next heartbeat arms them.
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await node.heartbeat(work: work).held == leases)
            #expect(leases.allSatisfy { node.holds($0) })
            // Another process is still refused while the node runs.
            let twin = try Self.coordinator(store, id: "a")
            let refused = await #expect(throws: MessageStoreError.self) { try await twin.join() }
            #expect(refused?.code == .nodeIDInUse)
            await node.leave()
        }
    }

    @Test("nodes configured with different partition counts dividing a category at the same moment agree on one count")
    func divideAtOnce() async throws {
        let url = try await PostgresFixture.shared.freshDatabase()
        try await MessageDBStore.withStore(url: url) { store in
            let two = try Self.coordinator(store, id: "two", partitions: 2)
            let four = try Self.coordinator(store, id: "four", partitions: 4)
            try await two.join()
            try await four.join()
            // A failure is recorded, and both still leave: a coordinator must close its lock
            // connection before it goes away.
            do {
                try await divideRounds(two, four)
            } catch {
                Issue.record(error)
            }
            await two.leave()
            await four.leave()
        }
    }

    private func divideRounds(_ two: MessageDBCoordinator, _ four: MessageDBCoordinator) async throws {
        for round in 0..<10 {
            let work = [PartitionedCategory(category: "race\(round):command", consumer: "thalo")]
            async let byTwo = two.heartbeat(work: work)
            async let byFour = four.heartbeat(work: work)
            let assignments = try await [byTwo, byFour]
            let leases = assignments.flatMap { $0.held.union($0.excess) }.filter { $0.category == work[0].category }
            #expect(Set(leases.map(\.partitions)).count <= 1, "round \(round): \(leases)")
            let rows = try await two.status().partitions.filter { $0.category == "race\(round):command" }
            #expect(rows.count == 2 || rows.count == 4, "round \(round): \(rows.count) lease rows")
            #expect(Set(rows.map(\.partitions)) == [rows.count], "round \(round): \(rows.map(\.partitions))")
        }
    }
}
