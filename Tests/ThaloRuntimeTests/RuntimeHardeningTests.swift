import ESDL
import Foundation
import JSON
import Logging
import MessageDB
import MessageStore
import TestSupport
import Testing

@testable import ThaloRuntime

/// The runtime's answers to requests an attacker or a careless user would make.
@Suite("Runtime: hardening")
struct RuntimeHardeningTests {
    @Test("command ids are compared on all 128 bits: ids equal in their 64-bit fold are two commands")
    func fullWidthIdempotency() async throws {
        try await withRuntime(.sqlite) { runtime in
            _ = try await runtime.execute(bank("k", "open_account", ["initial_balance": 0]))
            // 0x1111… and 0x2222… fold to the same 64 bits (high XOR low is 0 for both).
            let first = UUID(uuidString: "11111111-1111-1111-1111-111111111111")!
            let second = UUID(uuidString: "22222222-2222-2222-2222-222222222222")!
            let a = try await runtime.execute(bank("k", "deposit_funds", ["amount": 5], commandID: first))
            let b = try await runtime.execute(bank("k", "deposit_funds", ["amount": 5], commandID: second))
            guard case .recorded = a.outcome, case .recorded = b.outcome else {
                Issue.record("both deposits must be recorded: \(a.outcome) \(b.outcome)")
                return
            }
            #expect(try await runtime.store.streamVersion("bankAccount-k") == 2)
            // After a rebuild from the stream (a new runtime), the same holds.
            let fresh = Runtime(store: runtime.store)
            let third = UUID(uuidString: "33333333-3333-3333-3333-333333333333")!
            let c = try await fresh.execute(bank("k", "deposit_funds", ["amount": 5], commandID: third))
            #expect(c.outcome.events.count == 1)
            let again = try await fresh.execute(bank("k", "deposit_funds", ["amount": 5], commandID: second))
            guard case .duplicate(let events) = again.outcome else {
                Issue.record("a repeated id is a duplicate: \(again.outcome)")
                return
            }
            #expect(events.map(\.id) == b.outcome.events.map(\.id))
        }
    }

    @Test(
        "an id reused for another payload, command, entity or aggregate is refused and writes nothing",
        arguments: [Backend.sqlite, .postgres])
    func reusedKey(backend: Backend) async throws {
        try await withRuntime(backend, publishing: ["bank_account", "counter"]) { runtime in
            _ = try await runtime.execute(bank("r1", "open_account", ["initial_balance": 10]))
            _ = try await runtime.execute(bank("r2", "open_account", ["initial_balance": 10]))
            let key = UUID()
            _ = try await runtime.execute(bank("r1", "deposit_funds", ["amount": 5], commandID: key))
            let repeated = try await runtime.execute(bank("r1", "deposit_funds", ["amount": 5], commandID: key))
            guard case .duplicate = repeated.outcome else {
                Issue.record("the same command with the same id is a duplicate: \(repeated.outcome)")
                return
            }
            let cases: [CommandRequest] = [
                bank("r1", "deposit_funds", ["amount": 6], commandID: key),
                bank("r1", "withdraw_funds", ["amount": 5], commandID: key),
                bank("r2", "deposit_funds", ["amount": 5], commandID: key),
                CommandRequest(aggregate: "Counter", id: "r1", command: "increment", payload: ["amount": 1], commandID: key),
            ]
            for request in cases {
                let refused = await #expect(throws: RuntimeError.self) { try await runtime.execute(request) }
                #expect(refused?.code == .idempotencyKeyReused, "\(request.command) \(request.id): \(String(describing: refused))")
            }
            #expect(try await runtime.store.streamVersion("bankAccount-r1") == 1)
            #expect(try await runtime.store.streamVersion("bankAccount-r2") == 0)
            #expect(try await runtime.store.streamVersion("counter-r1") == nil)
            // Submitting: the same id with another payload is refused too.
            let submitted = UUID()
            _ = try await runtime.submit(bank("r3", "open_account", ["initial_balance": 1], commandID: submitted))
            let again = try await runtime.submit(bank("r3", "open_account", ["initial_balance": 1], commandID: submitted))
            #expect(again.duplicate)
            let other = await #expect(throws: RuntimeError.self) {
                try await runtime.submit(bank("r3", "open_account", ["initial_balance": 2], commandID: submitted))
            }
            #expect(other?.code == .idempotencyKeyReused)
            let elsewhere = await #expect(throws: RuntimeError.self) {
                try await runtime.submit(bank("r4", "open_account", ["initial_balance": 1], commandID: submitted))
            }
            #expect(elsewhere?.code == .idempotencyKeyReused)
        }
    }

    @Test("Int fields written 1.0 or 1e0 reach the module as integers and are recorded as such")
    func integralNumbers() async throws {
        try await withRuntime(.sqlite) { runtime in
            _ = try await runtime.execute(bank("n", "open_account", ["initial_balance": .double(100)]))
            let deposited = try await runtime.execute(bank("n", "deposit_funds", ["amount": .double(1e1)]))
            #expect(deposited.outcome.events.first?.data == #"{"amount":10}"#)
            let fraction = await #expect(throws: RuntimeError.self) {
                try await runtime.execute(bank("n", "deposit_funds", ["amount": .double(1.5)]))
            }
            #expect(fraction?.code == .invalidPayload)
            #expect(fraction?.payloadErrors.first?.path == "amount")
            let view = try await runtime.entity(aggregate: "BankAccount", id: "n")
            #expect(view.state?["balance"] == 110)
        }
    }

    @Test("a valid payload too large for the module's memory is refused before any wasm runs")
    func payloadTooLarge() async throws {
        let configuration = RuntimeConfiguration(limits: ModuleLimits(maximumMemoryBytes: 8 << 20))
        try await withRuntime(.memory, publishing: ["todos"], configuration: configuration) { runtime in
            let description = String(repeating: "x", count: 3 << 20)
            let refused = await #expect(throws: RuntimeError.self) {
                try await runtime.execute(
                    CommandRequest(
                        aggregate: "Todos", id: "big", command: "add", payload: ["id": "1", "description": .string(description)]))
            }
            #expect(refused?.code == .payloadTooLarge)
            #expect(refused?.message.contains("at most 2097152 bytes") == true, "\(String(describing: refused))")
            // The instance was not reset: a normal command works at once.
            let added = try await runtime.execute(
                CommandRequest(aggregate: "Todos", id: "big", command: "add", payload: ["id": "1", "description": "small"]))
            #expect(added.outcome.events.count == 1)
        }
    }

    @Test("ids that are equal as Swift strings but differ in bytes are two entities")
    func unicodeIDs() async throws {
        try await withRuntime(.sqlite) { runtime in
            let precomposed = "caf\u{E9}"
            let decomposed = "cafe\u{301}"
            #expect(precomposed == decomposed)  // Swift's canonical equivalence
            _ = try await runtime.execute(bank(precomposed, "open_account", ["initial_balance": 10]))
            let other = await #expect(throws: RuntimeError.self) {
                try await runtime.execute(bank(decomposed, "deposit_funds", ["amount": 5]))
            }
            #expect(other?.code == .rejected, "the decomposed id's account was never opened: \(String(describing: other))")
            _ = try await runtime.execute(bank(decomposed, "open_account", ["initial_balance": 1]))
            #expect(try await runtime.store.streamVersion(StreamName(unchecked: "bankAccount-" + precomposed)) == 0)
            #expect(try await runtime.store.streamVersion(StreamName(unchecked: "bankAccount-" + decomposed)) == 0)
        }
    }

    @Test("an aggregate whose category belongs to another aggregate is not published")
    func categoryTaken() async throws {
        try await withRuntime(.memory) { runtime in
            let built = try await ExampleModules.shared.build("bank_account")
            let twin = built.schema.replacingOccurrences(of: "aggregate BankAccount", with: "aggregate bankAccount")
                .replacingOccurrences(of: "0.1.0", with: "0.2.0")
            let refused = await #expect(throws: RuntimeError.self) { try await runtime.publish(schema: twin, wasm: built.wasm) }
            #expect(refused?.code == .categoryTaken)
            #expect(refused?.message.contains("belong to aggregate BankAccount") == true, "\(String(describing: refused))")
            #expect(try await runtime.registry.list().map(\.name) == ["BankAccount"])
        }
    }

    @Test("a module that does not implement its schema is refused, naming what is missing")
    func moduleMatchesSchema() async throws {
        try await withRuntime(.memory, publishing: []) { runtime in
            let bank = try await ExampleModules.shared.build("bank_account")
            let counter = try await ExampleModules.shared.build("counter")
            let refused = await #expect(throws: RuntimeError.self) { try await runtime.publish(schema: bank.schema, wasm: counter.wasm) }
            #expect(refused?.code == .invalidModule)
            let message = refused?.message ?? ""
            #expect(message.contains("does not implement its schema"), "\(message)")
            #expect(message.contains("command open_account has no handler"), "\(message)")
            #expect(message.contains("event OpenedAccount cannot be applied"), "\(message)")
            let notWasm = await #expect(throws: RuntimeError.self) {
                try await runtime.publish(schema: bank.schema, wasm: Array("#!/bin/sh\necho hi\n".utf8))
            }
            #expect(notWasm?.message.contains("not a WebAssembly module (bad magic header") == true, "\(String(describing: notWasm))")
            #expect(try await runtime.registry.list().isEmpty)
            // The right module is accepted.
            try await runtime.publish(schema: bank.schema, wasm: bank.wasm)
        }
    }

    @Test("a reply stream that is malformed or inside an aggregate's events is refused at submit")
    func replyStreamAtSubmit() async throws {
        try await withRuntime(.memory) { runtime in
            for reply in ["oops-", "bankAccount-1", "has space-1", "justACategory"] {
                var request = bank("rs", "open_account", ["initial_balance": 1])
                request.metadata = Metadata(replyStreamName: reply)
                let refused = await #expect(throws: RuntimeError.self) { try await runtime.submit(request) }
                #expect(refused?.code == .invalidReplyStream, "\(reply): \(String(describing: refused))")
            }
            #expect(try await runtime.store.streamVersion("bankAccount:command-rs") == nil)
            var request = bank("rs", "open_account", ["initial_balance": 1])
            request.metadata = Metadata(replyStreamName: "bankAccount:reply-1")
            _ = try await runtime.submit(request)
        }
    }

    @Test("a cluster node refused for an id another running node has stops with that error instead of running on without work")
    func nodeIDInUseStopsTheRuntime() async throws {
        let url = try await PostgresFixture.shared.freshDatabase()
        try await MessageDBStore.withStore(url: url) { store in
            func coordinator() throws -> MessageDBCoordinator {
                try MessageDBCoordinator(
                    store: store, configuration: .init(nodeID: "busy", heartbeatInterval: .milliseconds(200), leaseDuration: .seconds(2)),
                    logger: Logger(label: "test"))
            }
            let holder = try coordinator()
            try await holder.join()
            let runtime = Runtime(
                store: store, configuration: RuntimeConfiguration(registryPollInterval: .milliseconds(100)),
                coordinator: try coordinator())
            let started = ContinuousClock.now
            let run = Task { try await runtime.run() }
            let stopped = Task {
                try await Task.sleep(for: .seconds(60))
                run.cancel()
            }
            let error = await #expect(throws: MessageStoreError.self) { try await run.value }
            stopped.cancel()
            #expect(error?.code == .nodeIDInUse, "\(String(describing: error))")
            // By itself, not by the cancellation a minute later.
            #expect(ContinuousClock.now - started < .seconds(30))
            await holder.leave()
        }
    }

    @Test(
        "the longest entity id and reply stream, at 4 bytes a character, work on every store; one character more is refused",
        arguments: [Backend.sqlite, .postgres])
    func longestNames(backend: Backend) async throws {
        try await withRuntime(backend) { runtime in
            let id = String(repeating: "\u{1D11E}", count: Runtime<AnyModuleStore>.maximumEntityIDLength)
            _ = try await runtime.execute(bank(id, "open_account", ["initial_balance": 5]))
            // A rejected submitted command writes its outcome (the longest stream derived
            // from the id) and a reply to the longest reply stream.
            let reply = "r:reply-" + String(repeating: "\u{1D11E}", count: StreamName.maximumLength - 8)
            var withdraw = bank(id, "withdraw_funds", ["amount": 1_000])
            withdraw.metadata = Metadata(replyStreamName: reply)
            _ = try await runtime.submit(withdraw)
            let consumer = Task { try await runtime.run() }
            try await waitUntil("the rejection replied", timeout: .seconds(60)) {
                try await runtime.store.streamVersion(StreamName(unchecked: reply)) == 0
            }
            consumer.cancel()
            try await consumer.value
            #expect(try await runtime.store.readStream(StreamName(unchecked: reply)).map(\.type) == ["CommandRejected"])
            #expect(try await runtime.entity(aggregate: "BankAccount", id: id).state?["balance"] == 5)

            let longID = await #expect(throws: RuntimeError.self) {
                try await runtime.execute(bank(id + "x", "open_account", ["initial_balance": 5]))
            }
            #expect(longID?.code == .invalidEntityID)
            #expect(longID?.message.contains("201 characters long; ids have at most 200") == true, "\(String(describing: longID))")
            var longReply = bank("2", "open_account", ["initial_balance": 5])
            longReply.metadata = Metadata(replyStreamName: reply + "x")
            let refused = await #expect(throws: RuntimeError.self) { try await runtime.submit(longReply) }
            #expect(refused?.code == .invalidReplyStream)
            #expect(try await runtime.store.streamVersion("bankAccount:command-2") == nil)
        }
    }

    @Test(
        "a submitted command whose outcome cannot be written is parked in the dead-letter stream, and the others go on",
        arguments: [Backend.sqlite, .postgres])
    func deadLetter(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            let built = try await ExampleModules.shared.build("bank_account")
            let configuration = RuntimeConfiguration(registryPollInterval: .milliseconds(100))
            let runtime = Runtime(store: AnyModuleStore(store), configuration: configuration)
            try await runtime.publish(schema: built.schema, wasm: built.wasm)
            let consumer = Task { try await runtime.run() }
            // Other programs write commands the aggregate rejects, asking for replies where
            // none can go: a malformed stream and an entity's own event stream.
            // And a name longer than any store takes (on PostgreSQL its index entry would not fit).
            let bad = [("oops-", UUID()), ("bankAccount-1", UUID()), ("r-" + String(repeating: "x", count: 299), UUID())]
            for (reply, id) in bad {
                try await store.write(
                    NewMessage(id: id, type: "withdraw_funds", data: ["amount": 1_000], metadata: Metadata(replyStreamName: reply)),
                    to: "bankAccount:command-d1")
            }
            // Commands after them are still handled.
            _ = try await runtime.submit(bank("d1", "open_account", ["initial_balance": 5]))
            try await waitUntil("bankAccount-d1 at version 0", timeout: .seconds(120)) {
                try await store.streamVersion("bankAccount-d1") == 0
            }
            try await waitUntil("bankAccount:command+deadLetter-thalo at version 2", timeout: .seconds(120)) {
                try await store.streamVersion("bankAccount:command+deadLetter-thalo") == 2
            }
            let parked = try await store.readStream("bankAccount:command+deadLetter-thalo")
            #expect(parked.map(\.type) == ["DeadLetter", "DeadLetter", "DeadLetter"])
            #expect(try parked.map { try $0.dataJSON()["messageId"]?.stringValue } == bad.map { $0.1.lowercasedText })
            #expect(try parked.map { try $0.dataJSON()["error"]?["code"] } == Array(repeating: "invalidReplyStream", count: 3))
            #expect(try parked[2].dataJSON()["error"]?["message"]?.stringValue?.contains("301 characters long") == true)
            // Nothing was appended to the entity's event stream but its own event.
            #expect(try await store.readStream("bankAccount-1").isEmpty)
            #expect(try await store.readStream("bankAccount-d1").map(\.type) == ["OpenedAccount"])
            consumer.cancel()
            try await consumer.value
        }
    }

    @Test(
        "a submitted command is decided once: redelivered after a crash, a rejected command stays rejected",
        arguments: [Backend.sqlite, .postgres])
    func decidedOnce(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            let built = try await ExampleModules.shared.build("bank_account")
            let configuration = RuntimeConfiguration(registryPollInterval: .milliseconds(100))
            let first = Runtime(store: AnyModuleStore(store), configuration: configuration)
            try await first.publish(schema: built.schema, wasm: built.wasm)
            _ = try await first.execute(bank("r1", "open_account", ["initial_balance": 0]))
            var withdraw = bank("r1", "withdraw_funds", ["amount": 10])
            withdraw.metadata = Metadata(replyStreamName: "replies-r1")
            _ = try await first.submit(withdraw)
            let consumer = Task { try await first.run() }
            try await waitUntil("replies-r1 at version 0", timeout: .seconds(120)) { try await store.streamVersion("replies-r1") == 0 }
            consumer.cancel()
            try await consumer.value
            // The crash: the consumer's last recorded position is from before the command
            // (positions are recorded every 100 messages or second), and funds arrive since.
            try await store.write(NewMessage(type: "Recorded", data: ["position": 0]), to: "bankAccount:command+position-thalo")
            _ = try await first.execute(bank("r1", "deposit_funds", ["amount": 100]))
            let second = Runtime(store: AnyModuleStore(store), configuration: configuration)
            let restarted = Task { try await second.run() }
            // A command submitted after it is handled only once the withdrawal was seen again.
            _ = try await second.submit(bank("r1", "deposit_funds", ["amount": 1]))
            try await waitUntil("bankAccount-r1 at version 2", timeout: .seconds(120)) {
                try await store.streamVersion("bankAccount-r1") == 2
            }
            restarted.cancel()
            try await restarted.value
            #expect(try await store.readStream("bankAccount-r1").map(\.type) == ["OpenedAccount", "DepositedFunds", "DepositedFunds"])
            let replies = try await store.readStream("replies-r1")
            #expect(replies.map(\.type) == ["CommandRejected"])
            #expect(try replies.first?.dataJSON()["message"]?.stringValue?.contains("insufficient funds") == true)
            let outcomes = try await store.readStream("bankAccount:command+outcome-r1")
            #expect(outcomes.map(\.type) == ["CommandRejected"])
            #expect(try outcomes.first?.dataJSON()["commandType"] == "withdraw_funds")
        }
    }

    @Test("a stream that lost its last events (a database that lost commits) is rebuilt, not retried as a conflict forever")
    func streamBehindLiveEntity() async throws {
        let url = try await PostgresFixture.shared.freshDatabase()
        let database = String(URLComponents(string: url)!.path.dropFirst())
        try await MessageDBStore.withStore(url: url) { store in
            let runtime = Runtime(store: AnyModuleStore(AnyMessageStore(store)))
            let built = try await ExampleModules.shared.build("bank_account")
            try await runtime.publish(schema: built.schema, wasm: built.wasm)
            _ = try await runtime.execute(bank("lost", "open_account", ["initial_balance": 10]))
            _ = try await runtime.execute(bank("lost", "deposit_funds", ["amount": 1]))
            _ = try await runtime.execute(bank("lost", "deposit_funds", ["amount": 100]))
            // The database loses the last event behind the runtime's back.
            let postgres = try await PostgresFixture.shared.cluster()
            try await postgres.psql(
                "DELETE FROM message_store.messages WHERE stream_name = 'bankAccount-lost' AND position = 2", database: database)
            let next = try await runtime.execute(bank("lost", "deposit_funds", ["amount": 5]))
            #expect(next.outcome.events.map(\.position) == [2])
            let view = try await runtime.entity(aggregate: "BankAccount", id: "lost")
            #expect(view.state?["balance"] == 16)
        }
    }
}

@Suite("Runtime: large entities")
struct LargeEntityTests {
    @Test("an entity whose events are large replays: apply calls are split by bytes and budgeted by work")
    func largeEventsReplay() async throws {
        // A small per-call budget: one apply with every event at once would run out of it.
        let configuration = RuntimeConfiguration(limits: ModuleLimits(fuelPerCall: 2_000_000, maximumApplyBytes: 256 << 10))
        try await withRuntime(.sqlite, publishing: ["todos"], configuration: configuration) { runtime in
            let description = String(repeating: "d", count: 20_000)
            // Written as the module would have written them, 60 events of 20 KB.
            var messages: [NewMessage] = []
            for index in 0..<60 {
                messages.append(
                    NewMessage(
                        type: "Added", data: ["id": .string("t\(index)"), "description": .string(description)],
                        metadata: Metadata(properties: ["commandId": .string(UUID().uuidString.lowercased())])))
            }
            for start in stride(from: 0, to: messages.count, by: 20) {
                try await runtime.store.write(Array(messages[start..<start + 20]), to: "todos-big")
            }
            let fresh = Runtime(store: runtime.store, configuration: configuration)
            let view = try await fresh.entity(aggregate: "Todos", id: "big")
            #expect(view.version == 59)
            let added = try await fresh.execute(
                CommandRequest(aggregate: "Todos", id: "big", command: "add", payload: ["id": "last", "description": "x"]))
            #expect(added.outcome.events.first?.position == 60)
            #expect(LargeEntityTests.chunkCount(60, size: 20_000, limit: 256 << 10) == 5)
        }
    }

    static func chunkCount(_ count: Int, size: Int, limit: Int) -> Int {
        let events = (0..<count).map { index in
            RecordedEvent(
                id: UUID(), type: "Added", data: String(repeating: "d", count: size), metadata: nil, streamName: "todos-big",
                position: Int64(index), globalPosition: Int64(index + 1), time: .now())
        }
        return InstanceWorker<InMemoryMessageStore>.applyChunks(events, limits: ModuleLimits(maximumApplyBytes: limit)).count
    }
}
