import CountReadModel
import Foundation
import JSON
import Logging
import MessageDB
import MessageStore
import Synchronization
import TestSupport
import Testing
import ThaloRuntime

/// A projection that records what it was given.
final class Recorder: Projection, Sendable {
    let categories: [String]
    let eventTypes: Set<String>?
    private let seen = Mutex<[Message]>([])
    private let failing = Mutex<Set<Int64>>([])

    init(categories: [String], eventTypes: Set<String>? = nil, failOn: Set<Int64> = []) {
        self.categories = categories
        self.eventTypes = eventTypes
        failing.withLock { $0 = failOn }
    }

    func handle(_ message: Message) async throws {
        if failing.withLock({ $0.contains(message.globalPosition) }) { throw ReadModelError("cannot handle \(message.globalPosition)") }
        seen.withLock { $0.append(message) }
    }

    var messages: [Message] { seen.withLock { $0 } }

    func waitFor(_ count: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(120)
        while messages.count < count {
            guard ContinuousClock.now < deadline else { throw ReadModelError("timed out: \(messages.count) of \(count)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

func counterEvent(_ count: Int64, amount: Int64 = 1, decrement: Bool = false) -> NewMessage {
    NewMessage(type: decrement ? "Decremented" : "Incremented", data: ["amount": .integer(amount), "count": .integer(count)])
}

/// A store whose reads fail with `connectionFailed` a number of times first, as a database
/// that is restarting does.
final class UnreachableAtFirst: ForwardingMessageStore {
    let base: AnyMessageStore
    let failuresLeft: Mutex<Int>

    init(_ base: AnyMessageStore, failures: Int) {
        self.base = base
        self.failuresLeft = Mutex(failures)
    }

    private func failFirst() throws {
        let fail = failuresLeft.withLock { left in
            defer { left -= 1 }
            return left > 0
        }
        if fail { throw MessageStoreError(.connectionFailed, "cannot reach the database (a test's failure)") }
    }

    func readStream(_ stream: StreamName, from position: Int64, batchSize: Int64, condition: String?) async throws -> [Message] {
        try failFirst()
        return try await base.readStream(stream, from: position, batchSize: batchSize, condition: condition)
    }
    func lastMessage(in stream: StreamName, type: String?) async throws -> Message? {
        try failFirst()
        return try await base.lastMessage(in: stream, type: type)
    }
}

@Suite("Projections")
struct ProjectionTests {
    @Test("a projection whose store cannot be reached at start retries until it can; a malformed category ends its run")
    func unreachableAtStart() async throws {
        try await withStore(.sqlite) { (base: AnyMessageStore) async throws -> Void in
            for index in 1...5 { try await base.write(counterEvent(Int64(index)), to: StreamName(unchecked: "counter-\(index)")) }
            let store = UnreachableAtFirst(base, failures: 3)
            let recorder = Recorder(categories: ["counter"])
            let run = Task { try await ProjectionRunner(store: store, projection: recorder, name: "patient").run() }
            try await recorder.waitFor(5)
            #expect(store.failuresLeft.withLock { $0 } <= 0)
            run.cancel()
            try await run.value
            let malformed = Recorder(categories: ["counter-1"])
            await #expect(throws: MessageStoreError.self) {
                try await ProjectionRunner(store: base, projection: malformed, name: "mistaken").run()
            }
        }
    }

    @Test(
        "delivery resumes after the recorded position on restart, with no message lost",
        arguments: [Backend.sqlite, .postgres] + Backend.officialMessageDBInstalls)
    func resumeAfterRestart(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            for index in 1...10 { try await store.write(counterEvent(Int64(index)), to: StreamName(unchecked: "counter-\(index % 3)")) }
            try await store.write(NewMessage(type: "Noise", data: [:]), to: "counter-9")
            let first = Recorder(categories: ["counter"], eventTypes: ["Incremented"])
            let configuration = ProjectionRunner<AnyMessageStore>.Configuration(positionUpdateInterval: 3)
            let run1 = Task {
                try await ProjectionRunner(store: store, projection: first, name: "totals", configuration: configuration).run()
            }
            try await first.waitFor(10)
            run1.cancel()
            try await run1.value
            for index in 11...15 { try await store.write(counterEvent(Int64(index)), to: StreamName(unchecked: "counter-\(index % 3)")) }
            let second = Recorder(categories: ["counter"], eventTypes: ["Incremented"])
            let run2 = Task {
                try await ProjectionRunner(store: store, projection: second, name: "totals", configuration: configuration).run()
            }
            try await second.waitFor(5)
            // A mark written last: once it is handled, a message handled twice would have been too.
            try await store.write(counterEvent(16), to: "counter-mark")
            try await second.waitFor(6)
            run2.cancel()
            try await run2.value
            let all = try await store.readCategory("counter", batchSize: -1).filter { $0.type == "Incremented" }.map(\.globalPosition)
            #expect(first.messages.map(\.globalPosition) + second.messages.map(\.globalPosition) == all)
            #expect(first.messages.allSatisfy { $0.type == "Incremented" })
        }
    }

    @Test(
        "two group members together see every message exactly once, each its own streams",
        arguments: [Backend.sqlite, .postgres] + Backend.officialMessageDBInstalls)
    func consumerGroups(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            for index in 0..<40 { try await store.write(counterEvent(Int64(index)), to: StreamName(unchecked: "counter-\(index % 11)")) }
            let members = [Recorder(categories: ["counter"]), Recorder(categories: ["counter"])]
            var tasks: [Task<Void, any Error>] = []
            for (index, member) in members.enumerated() {
                let configuration = ProjectionRunner<AnyMessageStore>.Configuration(
                    consumerGroup: try ConsumerGroup(member: Int64(index), size: 2))
                tasks.append(
                    Task {
                        try await ProjectionRunner(store: store, projection: member, name: "grouped", configuration: configuration).run()
                    })
            }
            let deadline = ContinuousClock.now + .seconds(120)
            while members.map(\.messages.count).reduce(0, +) < 40 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            for task in tasks { task.cancel() }
            for task in tasks { try await task.value }
            let seen = members.flatMap { $0.messages.map(\.globalPosition) }
            #expect(seen.count == 40)
            #expect(Set(seen).count == 40)
            for (index, member) in members.enumerated() {
                #expect(member.messages.allSatisfy { ConsumerGroup.partition(of: $0.streamName, size: 2) == Int64(index) })
                #expect(!member.messages.isEmpty)
            }
        }
    }

    @Test("a poison message is skipped only when configured, and the rest still arrives")
    func poisonMessage() async throws {
        let store = InMemoryMessageStore()
        for index in 1...4 { try await store.write(counterEvent(Int64(index)), to: "counter-1") }
        let recorder = Recorder(categories: ["counter"], failOn: [2])
        let configuration = ProjectionRunner<InMemoryMessageStore>.Configuration(maximumBackoff: .milliseconds(10), skipAfter: 3)
        let task = Task { try await ProjectionRunner(store: store, projection: recorder, name: "p", configuration: configuration).run() }
        try await recorder.waitFor(3)
        task.cancel()
        try await task.value
        #expect(recorder.messages.map(\.globalPosition) == [1, 3, 4])
    }

    @Test("the count read model keeps counter totals in a table, and a redelivered batch changes nothing")
    func countReadModel() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("thalo-readmodel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let totals = try CounterTotals(path: folder.appendingPathComponent("totals.sqlite").path)
        let store = InMemoryMessageStore()
        try await store.write([counterEvent(5, amount: 5), counterEvent(3, amount: 2, decrement: true)], to: "counter-a")
        try await store.write(counterEvent(1), to: "counter-b")
        let messages = try await store.readCategory("counter")
        for message in messages { try await totals.handle(message) }
        let once = try totals.rows()
        #expect(once.map(\.counterID) == ["a", "b"])
        #expect(once.map(\.count) == [3, 1])
        #expect(once.map(\.events) == [2, 1])
        // At-least-once delivery: the same batch again, and an old event alone.
        for message in messages { try await totals.handle(message) }
        try await totals.handle(messages[0])
        #expect(try totals.rows() == once)
        // Through the runner, from the store, with a restart in the middle.
        try await store.write(counterEvent(10, amount: 7), to: "counter-a")
        let run = Task { try await ProjectionRunner(store: store, projection: totals, name: "countReadModel").run() }
        let deadline = ContinuousClock.now + .seconds(120)
        while try totals.rows().first?.count != 10 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        run.cancel()
        try await run.value
        #expect(try totals.rows().map(\.count) == [10, 1])
        #expect(try totals.rows().map(\.events) == [3, 1])
    }

    @Test("two processes of one projection divide its category by leases, and one takes over when the other stops")
    func leasedPartitions() async throws {
        let url = try await PostgresFixture.shared.freshDatabase()
        try await MessageDBStore.withStore(url: url) { store in
            func coordinator(_ id: String) throws -> MessageDBCoordinator {
                try MessageDBCoordinator(
                    store: store,
                    configuration: .init(nodeID: id, partitions: 8, heartbeatInterval: .milliseconds(200), leaseDuration: .seconds(120)),
                    logger: Logger(label: "test"))
            }
            // Leases long enough that a two-core machine busy with other tests never lets one
            // run out: an expired lease hands its partition over without the last position
            // (delivery is at least once), and this test checks the graceful hand-overs.
            let configuration = ProjectionRunner<MessageDBStore>.Configuration(positionUpdateInterval: 1)
            let first = Recorder(categories: ["counter"])
            let second = Recorder(categories: ["counter"])
            let run1 = Task {
                try await ProjectionRunner(
                    store: store, projection: first, name: "leased", configuration: configuration, coordinator: try coordinator("p1")
                ).run()
            }
            let run2 = Task {
                try await ProjectionRunner(
                    store: store, projection: second, name: "leased", configuration: configuration, coordinator: try coordinator("p2")
                ).run()
            }
            // Balance takes a few heartbeats. The messages come once it is reached: a partition
            // handed back while its consumer is busy may be delivered again (its consumer is
            // given one heartbeat interval to stop, at least once), and this test checks that
            // every message is delivered once.
            let observer = try coordinator("observer")
            try await waitUntil("each process holds 4 partitions") {
                let owners = try await observer.status().partitions.filter { $0.category == "counter" && $0.consumer == "leased" }
                    .map(\.owner)
                return owners.filter { $0 == "p1" }.count == 4 && owners.filter { $0 == "p2" }.count == 4
            }
            let deadline = ContinuousClock.now + .seconds(300)
            for index in 0..<120 {
                try await store.write(counterEvent(Int64(index)), to: StreamName(category: "counter", id: "p\(index % 40)"))
            }
            // Together they see each message once; each handles a share.
            while first.messages.count + second.messages.count < 120 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            // A mark at the end of every stream: a partition delivers a stream in order, so once
            // every mark is in, a message delivered twice would be in too.
            for index in 0..<40 {
                try await store.write(counterEvent(Int64(1_000 + index)), to: StreamName(category: "counter", id: "p\(index)"))
            }
            while first.messages.count + second.messages.count < 160 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            let both = (first.messages + second.messages).map(\.globalPosition)
            #expect(both.count == 160)
            #expect(Set(both).count == 160)
            // A graceful stop hands its partitions back: the other process takes them and goes on.
            run1.cancel()
            try await run1.value
            let before = second.messages.count
            for index in 120..<160 {
                try await store.write(counterEvent(Int64(index)), to: StreamName(category: "counter", id: "p\(index % 40)"))
            }
            try await second.waitFor(before + 40)
            // The positions are recorded just after the messages are handled: wait for them.
            var leased: [ClusterPartition] = []
            let caughtUp = ContinuousClock.now + .seconds(120)
            repeat {
                leased = try await observer.status().partitions.filter { $0.category == "counter" && $0.consumer == "leased" }
                if leased.allSatisfy({ $0.owner == "p2" && $0.lag == 0 }) { break }
                try await Task.sleep(for: .milliseconds(100))
            } while ContinuousClock.now < caughtUp
            #expect(leased.count == 8)
            #expect(leased.allSatisfy { $0.owner == "p2" }, "\(leased.map(\.owner))")
            #expect(leased.allSatisfy { $0.lag == 0 }, "\(leased.map(\.lag))")
            run2.cancel()
            try await run2.value
            // Partitions were divided: each position stream is the consumer's member stream.
            #expect(try await store.lastMessage(in: StreamName(unchecked: "counter:position-leased+0"), type: "Recorded") != nil)
        }
    }
}
