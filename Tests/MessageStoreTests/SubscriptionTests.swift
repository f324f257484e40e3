import Foundation
import JSON
import MessageStore
import Synchronization
import TestSupport
import Testing

/// Collects what a subscription delivered, from its handler's task.
final class Delivered: Sendable {
    private let state = Mutex<[Message]>([])
    func append(_ message: Message) { state.withLock { $0.append(message) } }
    var messages: [Message] { state.withLock { $0 } }
    var count: Int { state.withLock { $0.count } }

    func waitFor(_ count: Int, timeout: Duration = .seconds(120)) async throws {
        let deadline = ContinuousClock.now + timeout
        while self.count < count {
            if ContinuousClock.now > deadline { throw TemporaryPostgresError("timed out waiting for \(count) messages, got \(self.count)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

@Suite("Subscriptions")
struct SubscriptionTests {
    static func write(_ store: some MessageStore, _ count: Int, stream: (Int) -> StreamName) async throws {
        for index in 0..<count {
            try await store.write(NewMessage(type: "Counted", data: ["n": .integer(Int64(index))]), to: stream(index))
        }
    }

    @Test("catches up, follows live writes and records its position", arguments: Backend.allCases)
    func catchUpThenLive(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            try await Self.write(store, 25) { StreamName(category: "counter", id: "\($0 % 3)") }
            let delivered = Delivered()
            let subscription = Subscription(
                store: store,
                configuration: .init(category: "counter", consumer: "totals", batchSize: 10, positionUpdateInterval: 10)
            ) { delivered.append($0) }
            let task = Task { try await subscription.run() }
            try await delivered.waitFor(25)
            try await Self.write(store, 5) { StreamName(category: "counter", id: "\($0 % 3)") }
            try await delivered.waitFor(30)
            task.cancel()
            try await task.value
            let all = try await store.readCategory("counter", batchSize: -1)
            #expect(delivered.messages.map(\.globalPosition) == all.map(\.globalPosition))
            let recorded = try #require(try await store.lastMessage(in: "counter:position-totals"))
            #expect(recorded.type == "Recorded")
            #expect(try recorded.dataJSON()["position"]?.integerValue == all.last?.globalPosition)
        }
    }

    @Test("resumes after the recorded position on restart, without losing a message", arguments: Backend.allCases)
    func resume(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            try await Self.write(store, 12) { StreamName(category: "counter", id: "\($0)") }
            let first = Delivered()
            let configuration = Subscription<AnyMessageStore>.Configuration(
                category: "counter", consumer: "resumer", batchSize: 5, positionUpdateInterval: 4)
            let run1 = Task { try await Subscription(store: store, configuration: configuration) { first.append($0) }.run() }
            try await first.waitFor(12)
            run1.cancel()
            try await run1.value
            try await Self.write(store, 6) { StreamName(category: "counter", id: "x\($0)") }
            let second = Delivered()
            let run2 = Task { try await Subscription(store: store, configuration: configuration) { second.append($0) }.run() }
            try await second.waitFor(6)
            // A mark written last: once it is delivered, any message delivered twice would be too.
            try await Self.write(store, 1) { _ in "counter-mark" }
            try await second.waitFor(7)
            run2.cancel()
            try await run2.value
            let all = try await store.readCategory("counter", batchSize: -1).map(\.globalPosition)
            #expect(first.messages.map(\.globalPosition) == Array(all.prefix(12)))
            #expect(second.messages.map(\.globalPosition) == Array(all.suffix(7)))
        }
    }

    @Test("group members each get their streams and together get every message once", arguments: Backend.allCases)
    func consumerGroup(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            try await Self.write(store, 60) { StreamName(category: "counter", id: "\($0 % 17)") }
            var tasks: [Task<Void, any Error>] = []
            let members = (0..<3).map { _ in Delivered() }
            for member in 0..<3 {
                let group = try ConsumerGroup(member: Int64(member), size: 3)
                let subscription = Subscription(
                    store: store, configuration: .init(category: "counter", consumer: "grouped", consumerGroup: group)
                ) { members[member].append($0) }
                tasks.append(Task { try await subscription.run() })
            }
            let deadline = ContinuousClock.now + .seconds(120)
            while members.map(\.count).reduce(0, +) < 60 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            for task in tasks { task.cancel() }
            for task in tasks { try await task.value }
            let all = members.flatMap { $0.messages.map(\.globalPosition) }
            #expect(all.count == 60)
            #expect(Set(all).count == 60)
            for (member, delivered) in members.enumerated() {
                #expect(delivered.messages.allSatisfy { ConsumerGroup.partition(of: $0.streamName, size: 3) == Int64(member) })
                #expect(try await store.lastMessage(in: StreamName(unchecked: "counter:position-grouped+\(member)")) != nil)
            }
        }
    }

    @Test("a local write wakes an idle subscription, which would otherwise poll only hourly", arguments: Backend.allCases)
    func wakeOnWrite(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            let delivered = Delivered()
            let subscription = Subscription(
                store: store,
                configuration: .init(category: "counter", minimumPollInterval: .seconds(3600), maximumPollInterval: .seconds(3600))
            ) { delivered.append($0) }
            let task = Task { try await subscription.run() }
            try await Task.sleep(for: .milliseconds(200))
            try await Self.write(store, 1) { _ in "counter-1" }
            try await delivered.waitFor(1, timeout: .seconds(120))
            task.cancel()
            try await task.value
        }
    }

    @Test("a failing handler is retried, then the message is skipped only as configured")
    func retryAndSkip() async throws {
        let store = InMemoryMessageStore()
        try await Self.write(store, 3) { StreamName(unchecked: "counter-\($0)") }
        let attempts = Mutex<[Int64: Int]>([:])
        let delivered = Delivered()
        let events = Mutex<[Subscription<InMemoryMessageStore>.Event.Kind]>([])
        let subscription = Subscription(
            store: store,
            configuration: .init(category: "counter", errorPolicy: .retry(maximumBackoff: .milliseconds(20), skipAfter: 3)),
            observer: { event in events.withLock { $0.append(event.kind) } }
        ) { message in
            let attempt = attempts.withLock { counts in
                counts[message.globalPosition, default: 0] += 1
                return counts[message.globalPosition]!
            }
            if message.globalPosition == 2 { throw TemporaryPostgresError("poison") }
            if message.globalPosition == 3 && attempt < 2 { throw TemporaryPostgresError("flaky") }
            delivered.append(message)
        }
        let task = Task { try await subscription.run() }
        try await delivered.waitFor(2)
        task.cancel()
        try await task.value
        #expect(delivered.messages.map(\.globalPosition) == [1, 3])
        let counts = attempts.withLock { $0 }
        #expect(counts == [1: 1, 2: 3, 3: 2])
        let skipped = events.withLock { $0.filter { if case .skipped = $0 { return true } else { return false } } }
        #expect(skipped.count == 1)
    }

    @Test("with the stop policy, a handler error ends the subscription with that error")
    func stopPolicy() async throws {
        let store = InMemoryMessageStore()
        try await Self.write(store, 2) { StreamName(unchecked: "counter-\($0)") }
        let subscription = Subscription(store: store, configuration: .init(category: "counter", errorPolicy: .stop)) { _ in
            throw TemporaryPostgresError("broken read model")
        }
        await #expect(throws: TemporaryPostgresError.self) { try await subscription.run() }
    }

    @Test("the position tracker records every N messages and after the update time")
    func positionTracker() {
        let start = ContinuousClock.now
        var tracker = PositionTracker(next: 1, updateInterval: 3, updateTime: .seconds(10))
        let decisions = [tracker.handled(1, now: start), tracker.handled(2, now: start), tracker.handled(3, now: start)]
        #expect(decisions == [false, false, true])
        tracker.recorded(now: start)
        #expect(!tracker.hasUnrecorded)
        let early = tracker.handled(4, now: start + .seconds(1))
        #expect(!early)
        #expect(!tracker.shouldRecordWhenIdle(now: start + .seconds(2)))
        #expect(tracker.shouldRecordWhenIdle(now: start + .seconds(11)))
        let late = tracker.handled(5, now: start + .seconds(11))
        #expect(late)
        #expect(tracker.next == 6)
        #expect(tracker.lastHandled == 5)
    }

    @Test("idle polling backs off up to its maximum and resets")
    func backoff() {
        var backoff = Backoff(minimum: .milliseconds(10), maximum: .milliseconds(50))
        let waits = [backoff.nextWait(), backoff.nextWait(), backoff.nextWait(), backoff.nextWait()]
        #expect(waits == [.milliseconds(10), .milliseconds(20), .milliseconds(40), .milliseconds(50)])
        backoff.reset()
        let first = backoff.nextWait()
        #expect(first == .milliseconds(10))
    }

    @Test("a consumer name that could share a position stream or cannot end one is refused before anything is read")
    func badConsumerNames() async throws {
        let store = InMemoryMessageStore()
        for name in ["x+1", "", "a b", "totals-", String(repeating: "c", count: 290)] {
            let subscription = Subscription(store: store, configuration: .init(category: "counter", consumer: name)) { _ in }
            let error = await #expect(throws: MessageStoreError.self, "\(name.debugDescription)") { try await subscription.run() }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("invalid consumer name") == true)
        }
    }

    @Test("the position stream follows Eventide's naming")
    func positionStreamName() throws {
        #expect(
            Subscription<InMemoryMessageStore>.Configuration(category: "account", consumer: "balances").positionStream
                == "account:position-balances")
        #expect(
            Subscription<InMemoryMessageStore>.Configuration(category: "account:command", consumer: "runtime").positionStream
                == "account:command+position-runtime")
        let group = try ConsumerGroup(member: 1, size: 4)
        #expect(
            Subscription<InMemoryMessageStore>.Configuration(category: "account", consumer: "c", consumerGroup: group).positionStream
                == "account:position-c+1")
    }
}
