import Foundation
import MessageStore
import MessageStoreSQLite
import TestSupport
import Testing

/// Appends chained behind one another on the embedded store: each is written only if the one
/// before it was, whatever its expected version says.
@Suite("SQLite chained appends")
struct ChainedAppendTests {
    static func stream(_ id: String) -> StreamName { StreamName(category: "chain", id: id) }

    @Test("an append chained after a failed one is not written, even when its expected version matches")
    func afterFailure() async throws {
        let store = try GroupCommitFaultTests.store(.init(statement: "none", failOn: 0))
        defer { store.close() }
        let stream = Self.stream("1")
        try await store.write(NewMessage(type: "Opened", data: [:]), to: stream)
        // The first fails (the stream is at 0, not 5); the second expects 0, which is true,
        // but it was decided on the first one's events.
        let first = try #require(
            store.appendChained([NewMessage(type: "A", data: [:])], to: stream, expectedVersion: .version(5), after: nil))
        let second = try #require(
            store.appendChained([NewMessage(type: "B", data: [:])], to: stream, expectedVersion: .version(0), after: first))
        let third = try #require(
            store.appendChained([NewMessage(type: "C", data: [:])], to: stream, expectedVersion: .version(0), after: nil))
        await #expect(throws: MessageStoreError.self) { try await first.value() }
        do {
            _ = try await second.value()
            Issue.record("the append chained after a failed one was written")
        } catch let error as MessageStoreError {
            #expect(error.code == .wrongExpectedVersion)
            #expect(error.message.contains("chained after"))
        }
        #expect(try await third.value().recorded.map(\.position) == [1])
        #expect(try await store.readStream(stream).map(\.type) == ["Opened", "C"])
    }

    @Test("appends chained behind each other are written in order, in one commit when they are queued together")
    func inOneCommit() async throws {
        // The first transaction is held open until the chain is queued behind it.
        let faults = GroupCommitFaultTests.Faults(statement: "none", failOn: 0, holdUntilReleased: true)
        let store = try GroupCommitFaultTests.store(faults)
        defer {
            faults.releaseFirstBegin()
            store.close()
        }
        let before = store.groupStatistics
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.write(NewMessage(type: "Other", data: [:]), to: Self.stream("other")) }
            try await waitUntil("the first write began its transaction") { faults.firstBeginReached }
            var previous: ChainedAppend?
            var chain: [ChainedAppend] = []
            for index in 0..<4 {
                let next = try #require(
                    store.appendChained(
                        [NewMessage(type: "N\(index)", data: [:])], to: Self.stream("2"),
                        expectedVersion: index == 0 ? .noStream : .version(Int64(index - 1)), after: previous))
                chain.append(next)
                previous = next
            }
            faults.releaseFirstBegin()
            for (index, append) in chain.enumerated() { #expect(try await append.value().recorded.map(\.position) == [Int64(index)]) }
            try await group.waitForAll()
        }
        #expect(try await store.readStream(Self.stream("2")).map(\.type) == ["N0", "N1", "N2", "N3"])
        let after = store.groupStatistics
        #expect(after.commits - before.commits == 2, "the held write, then the four chained appends in one commit")
    }

    @Test("when the commit of a chained append fails, the append chained after it in the next commit is not written")
    func commitFails() async throws {
        // The first commit fails; the first BEGIN is held, so that the second append is
        // queued for the next group while the first one's transaction is open.
        let store = try GroupCommitFaultTests.store(.init(statement: "COMMIT", failOn: 1, holdFirstBegin: true))
        defer { store.close() }
        let stream = Self.stream("3")
        let first = try #require(
            store.appendChained([NewMessage(type: "A", data: [:])], to: stream, expectedVersion: .noStream, after: nil))
        try await Task.sleep(for: .milliseconds(100))
        // Had the first not been chained, this one's expectation (an empty stream) would hold.
        let second = try #require(
            store.appendChained([NewMessage(type: "B", data: [:])], to: stream, expectedVersion: .noStream, after: first))
        await #expect(throws: MessageStoreError.self) { try await first.value() }
        await #expect(throws: MessageStoreError.self) { try await second.value() }
        #expect(try await store.readStream(stream).isEmpty)
    }

    @Test("the in-memory store does not chain appends: its callers append once the previous append is written")
    func notEveryStoreChains() {
        let store = InMemoryMessageStore()
        #expect(
            store.appendChained([NewMessage(type: "A", data: [:])], to: Self.stream("4"), expectedVersion: .noStream, after: nil) == nil)
    }
}
