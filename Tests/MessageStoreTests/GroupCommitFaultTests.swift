import Foundation
import MessageStore
import MessageStoreSQLite
import Synchronization
import Testing

/// The embedded store's group commit when SQLite fails in the middle of a group: each
/// request must learn the truth, committed → success, not committed → error.
@Suite("SQLite group commit under injected errors")
struct GroupCommitFaultTests {
    /// Fails the given statement the nth time it runs (counting from 1), once.
    final class Faults: Sendable {
        private let state = Mutex<[String: Int]>([:])
        let statement: String
        let failOn: Int
        /// How long the first `BEGIN IMMEDIATE` waits for ``releaseFirstBegin()``; nil: not at all.
        let firstBeginHold: Double?
        private let reachedFirstBegin = Mutex(false)
        private let release = DispatchSemaphore(value: 0)

        /// - Parameters:
        ///   - holdFirstBegin: the first `BEGIN IMMEDIATE` waits 0.3 s (on the writer's thread)
        ///   - holdUntilReleased: it waits until ``releaseFirstBegin()`` instead (10 minutes at most:
        ///     a test on a loaded machine can wait that long for a thread of the cooperative pool)
        init(statement: String, failOn: Int, holdFirstBegin: Bool = false, holdUntilReleased: Bool = false) {
            self.statement = statement
            self.failOn = failOn
            firstBeginHold = holdUntilReleased ? 600 : holdFirstBegin ? 0.3 : nil
        }

        /// Whether the first `BEGIN IMMEDIATE` is being held (or was).
        var firstBeginReached: Bool { reachedFirstBegin.withLock { $0 } }

        /// Lets the held first `BEGIN IMMEDIATE` go on.
        func releaseFirstBegin() { release.signal() }

        func inject(_ sql: String) -> MessageStoreError? {
            let count = state.withLock { counts -> Int in
                counts[sql, default: 0] += 1
                return counts[sql]!
            }
            // Holding the first transaction open lets the next writes queue up into one group.
            if let firstBeginHold, sql == "BEGIN IMMEDIATE" && count == 1 {
                reachedFirstBegin.withLock { $0 = true }
                _ = release.wait(timeout: .now() + firstBeginHold)
            }
            return sql == statement && count == failOn ? MessageStoreError(.storage, "injected failure of \(sql)") : nil
        }
    }

    static func store(_ faults: Faults) throws -> SQLiteMessageStore {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("thalo-faults-\(UUID().uuidString)")
        var configuration = SQLiteMessageStore.Configuration(path: folder.appendingPathComponent("messages.sqlite").path)
        configuration.faultInjector = { faults.inject($0) }
        return try SQLiteMessageStore(configuration: configuration)
    }

    @Test("a savepoint that cannot be rolled back fails the write, and nothing of it is committed")
    func rollbackFails() async throws {
        let faults = Faults(statement: "ROLLBACK TO write", failOn: 1)
        let store = try Self.store(faults)
        defer { store.close() }
        let taken = UUID()
        try await store.write(NewMessage(id: taken, type: "A", data: [:]), to: "a-1")
        // The second message's id is taken: the first one is inserted, then the write fails,
        // and the rollback of its savepoint fails too.
        await #expect(throws: MessageStoreError.self) {
            try await store.write([NewMessage(type: "B", data: [:]), NewMessage(id: taken, type: "B", data: [:])], to: "b-1")
        }
        #expect(try await store.readStream("b-1").isEmpty)
        // The store works on.
        try await store.write(NewMessage(type: "C", data: [:]), to: "c-1")
        #expect(try await store.readStream("c-1").count == 1)
    }

    @Test(
        "when a statement of the group protocol fails, every request told success is stored and every one told failure is not",
        arguments: [("RELEASE write", 3), ("SAVEPOINT write", 5), ("ROLLBACK TO write", 1), ("COMMIT", 1), ("BEGIN IMMEDIATE", 1)])
    func groups(statement: String, failOn: Int) async throws {
        let faults = Faults(statement: statement, failOn: failOn, holdFirstBegin: true)
        let store = try Self.store(faults)
        defer { store.close() }
        let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
            for index in 0..<24 {
                group.addTask {
                    do {
                        // Every fourth write conflicts (wrong expected version), so groups hold failed writes too.
                        let expected: ExpectedVersion? = index % 4 == 3 ? .version(5) : nil
                        try await store.write(
                            [NewMessage(type: "W", data: ["n": .integer(Int64(index))])], to: StreamName(unchecked: "w-\(index)"),
                            expectedVersion: expected)
                        return (index, true)
                    } catch {
                        return (index, false)
                    }
                }
            }
            var outcomes: [Int: Bool] = [:]
            for await (index, ok) in group { outcomes[index] = ok }
            return outcomes
        }
        #expect(outcomes.values.contains(false), "the injected failure must fail some write")
        for (index, acknowledged) in outcomes {
            let stored = try await store.readStream(StreamName(unchecked: "w-\(index)")).count
            #expect(stored == (acknowledged ? 1 : 0), "w-\(index): acknowledged \(acknowledged), stored \(stored)")
        }
        // The store goes on after the failed group.
        try await store.write(NewMessage(type: "After", data: [:]), to: "after-1")
        #expect(try await store.readStream("after-1").count == 1)
    }
}
