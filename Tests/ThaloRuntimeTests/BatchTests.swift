import ESDL
import Foundation
import JSON
import MessageStore
import Synchronization
import TestSupport
import Testing

@testable import ThaloRuntime

/// A store that counts the appends to one stream and can hold them (again and again) until
/// released, so that a test can queue commands behind a busy entity in a known order.
final class AppendProbe: ForwardingMessageStore, Sendable {
    let base: AnyMessageStore
    let stream: StreamName
    private struct State {
        var appends = 0
        /// How many messages each append to the watched stream carried, in order of arrival.
        var arrivedSizes: [Int] = []
        var arrived: Int { arrivedSizes.count }
        var holding = false
        /// Whether only appends of more than one message are held.
        var holdingOnlyBatches = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        /// Runs once, before the first append of more than one message.
        var beforeBatchAppend: (@Sendable () async throws -> Void)?
    }
    private let state = Mutex(State())

    init(_ base: AnyMessageStore, watching stream: StreamName) {
        self.base = base
        self.stream = stream
    }

    /// Appends made to the watched stream.
    var appends: Int { state.withLock { $0.appends } }

    /// Holds the next appends to the watched stream until ``release()``.
    func hold() { state.withLock { $0.holding = true } }

    /// Lets the held appends go; with `thenHoldingBatches`, the next appends of more than one
    /// message are held again.
    func release(thenHoldingBatches: Bool = false) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.holding = thenHoldingBatches
            state.holdingOnlyBatches = thenHoldingBatches
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Appends to the watched stream that have arrived, held or not.
    var arrivals: Int { state.withLock { $0.arrived } }

    /// How many messages each append to the watched stream that arrived carried.
    var arrivalSizes: [Int] { state.withLock { $0.arrivedSizes } }

    /// Waits until `count` appends to the watched stream have arrived in all.
    func waitForArrivals(_ count: Int) async throws {
        try await waitUntil("\(count) appends arrived") { self.state.withLock { $0.arrived >= count } }
    }

    func beforeBatchAppend(_ action: @escaping @Sendable () async throws -> Void) {
        state.withLock { $0.beforeBatchAppend = action }
    }

    func append(_ messages: [NewMessage], to stream: StreamName, expectedVersion: ExpectedVersion?) async throws -> WriteResult {
        if stream == self.stream {
            await withCheckedContinuation { continuation in
                let go = state.withLock { state -> Bool in
                    state.arrivedSizes.append(messages.count)
                    guard state.holding, !state.holdingOnlyBatches || messages.count > 1 else { return true }
                    state.waiters.append(continuation)
                    return false
                }
                if go { continuation.resume() }
            }
            let action = state.withLock { state -> (@Sendable () async throws -> Void)? in
                guard messages.count > 1 else { return nil }
                defer { state.beforeBatchAppend = nil }
                return state.beforeBatchAppend
            }
            try await action?()
            state.withLock { $0.appends += 1 }
        }
        return try await base.append(messages, to: stream, expectedVersion: expectedVersion)
    }
}

/// Runs `body` with a runtime (one instance per module) over `backend` behind an
/// ``AppendProbe`` watching `stream`, with the examples published; `afterStartingWriter`
/// becomes the configuration's hook of that name, with the probe.
private func withProbedRuntime(
    _ backend: Backend = .memory, watching stream: StreamName, publishing examples: [String] = ["bank_account"],
    configuration: RuntimeConfiguration = RuntimeConfiguration(instancesPerModule: 1),
    afterStartingWriter: (@Sendable (AppendProbe, Int) async -> Void)? = nil,
    _ body: @Sendable (Runtime<AnyModuleStore>, AppendProbe) async throws -> Void
) async throws {
    try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
        let probe = AppendProbe(store, watching: stream)
        var configuration = configuration
        if let afterStartingWriter { configuration.afterStartingWriter = { await afterStartingWriter(probe, $0) } }
        let runtime = Runtime(store: AnyModuleStore(AnyMessageStore(probe)), configuration: configuration)
        for example in examples {
            let built = try await ExampleModules.shared.build(example)
            try await runtime.publish(schema: built.schema, wasm: built.wasm)
        }
        try await body(runtime, probe)
    }
}

/// Starts commands one after another, each once the one before waits for the busy entity,
/// so that they queue in this order.
private func queue(
    _ requests: [CommandRequest], on runtime: Runtime<AnyModuleStore>, aggregate: String, id: String
) async throws -> [Task<CommandResult, any Error>] {
    var tasks: [Task<CommandResult, any Error>] = []
    for (index, request) in requests.enumerated() {
        tasks.append(Task { try await runtime.execute(request) })
        try await waitUntil("\(index + 1) commands queued") { try await runtime.queuedCommands(aggregate: aggregate, id: id) == index + 1 }
    }
    return tasks
}

/// Runs `body` with a runtime (batches of at most 2) over a new in-memory store, once
/// account `id` has two batches in flight (see ``twoBatchesInFlight``): the first one's
/// append held by the probe, alone, and the second decided on top of it; `body` gets the
/// tasks of their four commands.
///
/// The entity's writer takes what is queued when it starts. Left alone, on a loaded machine
/// it may start only after the second batch is queued, and then rightly take both in one
/// append, which is not the case under test: the runtime waits until the writer's append of
/// the first batch arrived before it decides the second.
private func withTwoBatchesInFlight(
    _ id: String, configuration: RuntimeConfiguration,
    _ body: @Sendable (Runtime<AnyModuleStore>, AppendProbe, [Task<CommandResult, any Error>]) async throws -> Void
) async throws {
    try await withProbedRuntime(
        watching: StreamName(category: "bankAccount", id: id), configuration: configuration,
        afterStartingWriter: { probe, messages in
            // The first batch's two events.
            if messages == 2 { try? await probe.waitForArrivals(3) }
        }
    ) { runtime, probe in
        let tasks = try await twoBatchesInFlight(id, runtime: runtime, probe: probe)
        // The open, the deposit of 1, then the first batch alone.
        try #require(probe.arrivalSizes == [1, 1, 2])
        try await body(runtime, probe, tasks)
    }
}

/// Opens account `id` and makes two batches of two commands each on it (the runtime's
/// batches hold at most 2): deposits of 10 and 20, then a deposit of 100 and a withdrawal of
/// 131 that only the three deposits before it make possible. Returns once the first batch's
/// append is held by `probe` and the second batch is decided on top of it, with the tasks of
/// the four commands.
private func twoBatchesInFlight(
    _ id: String, runtime: Runtime<AnyModuleStore>, probe: AppendProbe
) async throws -> [Task<CommandResult, any Error>] {
    _ = try await runtime.execute(bank(id, "open_account", ["initial_balance": 0]))
    probe.hold()
    let first = Task { try await runtime.execute(bank(id, "deposit_funds", ["amount": 1])) }
    try await probe.waitForArrivals(2)
    let tasks = try await queue(
        [
            bank(id, "deposit_funds", ["amount": 10]),
            bank(id, "deposit_funds", ["amount": 20]),
            bank(id, "deposit_funds", ["amount": 100]),
            bank(id, "withdraw_funds", ["amount": 131]),
        ], on: runtime, aggregate: "BankAccount", id: id)
    // The deposit of 1 goes through; the first batch's append is held.
    probe.release(thenHoldingBatches: true)
    #expect(try await first.value.outcome.events.map(\.position) == [1])
    try await probe.waitForArrivals(3)
    // The entity applied the four commands of both batches.
    try await waitUntil("the second batch decided") { try await runtime.unwrittenEvents(aggregate: "BankAccount", id: id) == 4 }
    return tasks
}

@Suite("Runtime: commands queued for one entity run as a batch (contract 1.2)")
struct BatchTests {
    @Test("modules report the contract they implement: 1.2 when the aggregate opts in (Swift and Rust SDKs), else 1.1")
    func contractVersions() async throws {
        func instance(_ example: String) async throws -> GuestInstance {
            let built = try await ExampleModules.shared.build(example)
            let schema = try Schema.parse(built.schema)
            return try GuestInstance(
                module: AggregateModule(name: schema.aggregate.name, version: schema.version, schema: schema, bytes: built.wasm))
        }
        #expect(try await instance("bank_account").appliesUnwrittenEvents)
        #expect(try await instance("bank_account_rust").appliesUnwrittenEvents)
        #expect(try await !instance("wallet").appliesUnwrittenEvents)
        #expect(try await !instance("c_counter").appliesUnwrittenEvents)
    }

    @Test("queued commands are decided in order on the state their predecessors left, and written in one append")
    func queuedCommandsShareOneAppend() async throws {
        try await withProbedRuntime(watching: "bankAccount-b1") { runtime, probe in
            probe.hold()
            let open = Task { try await runtime.execute(bank("b1", "open_account", ["initial_balance": 0])) }
            try await probe.waitForArrivals(1)
            let repeated = UUID()
            let tasks = try await queue(
                [
                    bank("b1", "deposit_funds", ["amount": 100], commandID: repeated),
                    // Only the deposit before it makes this one possible; the next is too much after it.
                    bank("b1", "withdraw_funds", ["amount": 60]),
                    bank("b1", "withdraw_funds", ["amount": 50]),
                    bank("b1", "deposit_funds", ["amount": 5]),
                    // The first command again: answered with the events it wrote.
                    bank("b1", "deposit_funds", ["amount": 100], commandID: repeated),
                ], on: runtime, aggregate: "BankAccount", id: "b1")
            probe.release()
            #expect(try await open.value.outcome.events.map(\.position) == [0])
            let deposit = try await tasks[0].value.outcome
            #expect(deposit.events.map(\.position) == [1])
            #expect(try await tasks[1].value.outcome.events.map(\.position) == [2])
            let refused = await #expect(throws: RuntimeError.self) { try await tasks[2].value }
            #expect(refused?.code == .rejected)
            #expect(refused?.message == "insufficient funds")
            #expect(try await tasks[3].value.outcome.events.map(\.position) == [3])
            let again = try await tasks[4].value.outcome
            guard case .duplicate(let earlier) = again else {
                Issue.record("expected the repeated command to be a duplicate, got \(again)")
                return
            }
            #expect(earlier.map(\.id) == deposit.events.map(\.id))
            // The open, then one append for the whole batch.
            #expect(probe.appends == 2)
            let statistics = await runtime.batchStatistics()
            #expect(statistics.batches == 1)
            #expect(statistics.commands == 5)
            // Written events carry the store's global positions, never the -1 the module saw.
            let recorded = try await probe.readWholeStream("bankAccount-b1")
            #expect(recorded.map(\.position) == [0, 1, 2, 3])
            #expect(recorded.allSatisfy { $0.globalPosition >= 0 })
            #expect(Set(recorded.map(\.globalPosition)).count == 4)
            // The live entity and one rebuilt from the stream agree.
            #expect(try await runtime.entity(aggregate: "BankAccount", id: "b1").state?["balance"] == 45)
            let overdraft = await #expect(throws: RuntimeError.self) {
                try await runtime.execute(bank("b1", "withdraw_funds", ["amount": 46]))
            }
            #expect(overdraft?.code == .rejected)
            _ = try await runtime.execute(bank("b1", "withdraw_funds", ["amount": 45]))
        }
    }

    @Test("a batch whose append meets another writer is given up: each command runs again alone, nothing is lost or doubled")
    func conflictingBatchRunsAlone() async throws {
        try await withProbedRuntime(watching: "bankAccount-b2") { runtime, probe in
            _ = try await runtime.execute(bank("b2", "open_account", ["initial_balance": 0]))
            probe.hold()
            let first = Task { try await runtime.execute(bank("b2", "deposit_funds", ["amount": 1])) }
            try await probe.waitForArrivals(2)
            // Another writer gets in just before the batch's append.
            probe.beforeBatchAppend {
                _ = try await probe.base.append(
                    [NewMessage(type: "DepositedFunds", data: #"{"amount":1000}"#)], to: "bankAccount-b2", expectedVersion: .version(1))
            }
            let tasks = try await queue(
                [
                    bank("b2", "deposit_funds", ["amount": 10]),
                    bank("b2", "deposit_funds", ["amount": 20]),
                    bank("b2", "withdraw_funds", ["amount": 1031]),
                ], on: runtime, aggregate: "BankAccount", id: "b2")
            probe.release()
            #expect(try await first.value.outcome.events.map(\.position) == [1])
            // After the foreign event at 2, each command alone, on the state that includes it.
            #expect(try await tasks[0].value.outcome.events.map(\.position) == [3])
            #expect(try await tasks[1].value.outcome.events.map(\.position) == [4])
            #expect(try await tasks[2].value.outcome.events.map(\.position) == [5])
            let recorded = try await probe.readWholeStream("bankAccount-b2")
            #expect(
                recorded.map(\.type) == [
                    "OpenedAccount", "DepositedFunds", "DepositedFunds", "DepositedFunds", "DepositedFunds", "WithdrewFunds",
                ])
            #expect(Set(recorded.map(\.id)).count == recorded.count)
            // The batch was given up, so it does not count.
            #expect(await runtime.batchStatistics().batches == 0)
            #expect(try await runtime.entity(aggregate: "BankAccount", id: "b2").state?["balance"] == 0)
            let overdraft = await #expect(throws: RuntimeError.self) {
                try await runtime.execute(bank("b2", "withdraw_funds", ["amount": 1]))
            }
            #expect(overdraft?.code == .rejected)
        }
    }

    @Test("a batch in which nothing is written still decides on current state")
    func batchOfRefusals() async throws {
        try await withProbedRuntime(watching: "bankAccount-b3") { runtime, probe in
            _ = try await runtime.execute(bank("b3", "open_account", ["initial_balance": 10]))
            probe.hold()
            let first = Task { try await runtime.execute(bank("b3", "withdraw_funds", ["amount": 10])) }
            try await probe.waitForArrivals(2)
            let tasks = try await queue(
                [bank("b3", "withdraw_funds", ["amount": 1]), bank("b3", "withdraw_funds", ["amount": 2])],
                on: runtime, aggregate: "BankAccount", id: "b3")
            probe.release()
            #expect(try await first.value.outcome.events.map(\.position) == [1])
            for task in tasks {
                let refused = await #expect(throws: RuntimeError.self) { try await task.value }
                #expect(refused?.code == .rejected)
            }
            #expect(probe.appends == 2)
        }
    }

    @Test("a module of contract 1.1 runs queued commands one at a time, one append each")
    func contractOneOneIsNotBatched() async throws {
        try await withProbedRuntime(watching: "wallet-w1", publishing: ["wallet"]) { runtime, probe in
            func wallet(_ command: String, _ payload: JSONValue) -> CommandRequest {
                CommandRequest(aggregate: "Wallet", id: "w1", command: command, payload: payload)
            }
            probe.hold()
            let first = Task { try await runtime.execute(wallet("top_up", ["amount": 100])) }
            try await probe.waitForArrivals(1)
            let tasks = try await queue(
                [wallet("top_up", ["amount": 1]), wallet("top_up", ["amount": 2]), wallet("top_up", ["amount": 3])],
                on: runtime, aggregate: "Wallet", id: "w1")
            probe.release()
            _ = try await first.value
            for (index, task) in tasks.enumerated() {
                #expect(try await task.value.outcome.events.map(\.position) == [Int64(index + 1)])
            }
            #expect(probe.appends == 4)
            #expect(await runtime.batchStatistics().batches == 0)
        }
    }

    @Test("the next batch is decided on the one being written and appended after it; no snapshot holds unwritten events")
    func nextBatchIsDecidedDuringTheWrite() async throws {
        let configuration = RuntimeConfiguration(instancesPerModule: 1, snapshotEvery: 3, maximumBatchSize: 2)
        // The first batch (10, 20) is held while it is written; meanwhile the second
        // (100, -131) is decided on top of it.
        try await withTwoBatchesInFlight("b5", configuration: configuration) { runtime, probe, tasks in
            // Nothing waits in the entity's queue, and the second append has not started.
            #expect(try await runtime.queuedCommands(aggregate: "BankAccount", id: "b5") == 0)
            try await Task.sleep(for: .milliseconds(50))
            #expect(probe.arrivals == 3)
            // The first batch is written, which makes a snapshot due (4 events since none).
            // It is taken while the second batch is held: the entity's state then includes
            // that batch, so no snapshot may be written from it.
            probe.release(thenHoldingBatches: true)
            try await probe.waitForArrivals(4)
            await runtime.snapshotsSettled()
            let snapshotStream = StreamName(category: "bankAccount", id: "b5", types: ["snapshot"])
            #expect(try await probe.readWholeStream(snapshotStream).isEmpty)
            probe.release()
            var positions: [[Int64]] = []
            for task in tasks { positions.append(try await task.value.outcome.events.map(\.position)) }
            #expect(positions == [[2], [3], [4], [5]])
            #expect(probe.appends == 4)
            // Once the second batch is written, the snapshot is taken, at its last event.
            await runtime.snapshotsSettled()
            #expect(try await probe.readWholeStream(snapshotStream).compactMap(Snapshot.init).map(\.position) == [5])
            // A new runtime restores it and decides on the right balance.
            let restarted = Runtime(store: AnyModuleStore(AnyMessageStore(probe)), configuration: configuration)
            let built = try await ExampleModules.shared.build("bank_account")
            try await restarted.publish(schema: built.schema, wasm: built.wasm)
            _ = try await restarted.execute(bank("b5", "deposit_funds", ["amount": 31]))
            _ = try await restarted.execute(bank("b5", "withdraw_funds", ["amount": 31]))
            #expect(await runtime.batchStatistics().batches == 2)
            #expect(try await runtime.unwrittenEvents(aggregate: "BankAccount", id: "b5") == 0)
            #expect(try await runtime.entity(aggregate: "BankAccount", id: "b5").state?["balance"] == 0)
            let overdraft = await #expect(throws: RuntimeError.self) {
                try await runtime.execute(bank("b5", "withdraw_funds", ["amount": 1]))
            }
            #expect(overdraft?.code == .rejected)
        }
    }

    @Test("when a batch's append fails, the batch decided on top of it is never appended: both run again alone")
    func failedBatchTakesTheNextOneAlong() async throws {
        try await withTwoBatchesInFlight("b6", configuration: RuntimeConfiguration(instancesPerModule: 1, maximumBatchSize: 2)) {
            runtime, probe, tasks in
            // Another writer gets in just before the first batch's append.
            probe.beforeBatchAppend {
                _ = try await probe.base.append(
                    [NewMessage(type: "DepositedFunds", data: #"{"amount":1000}"#)], to: "bankAccount-b6", expectedVersion: .version(1))
            }
            probe.release()
            for task in tasks { #expect(try await task.value.outcome.events.count == 1) }
            let recorded = try await probe.readWholeStream("bankAccount-b6")
            // The open, the deposit of 1, the other writer's 1000, then each command once.
            #expect(recorded.map(\.position) == Array(0...6))
            #expect(recorded[2].data == #"{"amount":1000}"#)
            #expect(recorded.filter { $0.type == "DepositedFunds" }.count == 5)
            #expect(recorded.filter { $0.type == "WithdrewFunds" }.count == 1)
            #expect(Set(recorded.map(\.id)).count == recorded.count)
            // Neither batch stands; the second was never appended.
            #expect(await runtime.batchStatistics().batches == 0)
            #expect(probe.appends == 7)
            #expect(try await runtime.unwrittenEvents(aggregate: "BankAccount", id: "b6") == 0)
            #expect(try await runtime.entity(aggregate: "BankAccount", id: "b6").state?["balance"] == 1000)
            _ = try await runtime.execute(bank("b6", "withdraw_funds", ["amount": 1000]))
            let overdraft = await #expect(throws: RuntimeError.self) {
                try await runtime.execute(bank("b6", "withdraw_funds", ["amount": 1]))
            }
            #expect(overdraft?.code == .rejected)
        }
    }

    @Test("eight callers on one hot entity: every command is written once, in fewer appends than commands", arguments: [Backend.sqlite])
    func hotEntity(backend: Backend) async throws {
        try await withProbedRuntime(backend, watching: "bankAccount-hot") { runtime, probe in
            _ = try await runtime.execute(bank("hot", "open_account", ["initial_balance": 0]))
            let perCaller = 25
            try await withThrowingTaskGroup(of: Void.self) { group in
                for caller in 0..<8 {
                    group.addTask {
                        for index in 0..<perCaller {
                            _ = try await runtime.execute(bank("hot", "deposit_funds", ["amount": .integer(Int64(caller * 100 + index))]))
                        }
                    }
                }
                try await group.waitForAll()
            }
            let recorded = try await probe.readWholeStream("bankAccount-hot")
            #expect(recorded.count == 1 + 8 * perCaller)
            #expect(recorded.map(\.position) == (0...Int64(8 * perCaller)).map { $0 })
            #expect(Set(recorded.map(\.id)).count == recorded.count)
            let expected = (0..<8).reduce(0) { sum, caller in sum + (0..<perCaller).reduce(0) { $0 + caller * 100 + $1 } }
            #expect(try await runtime.entity(aggregate: "BankAccount", id: "hot").state?["balance"] == .integer(Int64(expected)))
            #expect(probe.appends < 1 + 8 * perCaller, "\(probe.appends) appends for \(1 + 8 * perCaller) commands")
        }
    }

    @Test(
        "two runtimes batching on one hot entity of a store that chains appends: each acknowledged command is written once",
        arguments: [Backend.sqlite])
    func chainedAppendsUnderConflicts(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            let (first, second) = try await twoBankRuntimes(on: store, maximumConflictRetries: 1_000)
            _ = try await first.execute(bank("hot", "open_account", ["initial_balance": 0]))
            // Four callers on each runtime: batches form on both, and each runtime's appends
            // keep meeting the other's, so chained appends fail behind failed ones.
            let acknowledged = try await depositConcurrently(from: Array(repeating: [first, second], count: 4).flatMap { $0 }, rounds: 12) {
                _, _ in "hot"
            }
            try await expectEachWrittenOnce(acknowledged, accounts: ["hot"], in: store)
            let statistics = await first.batchStatistics()
            let other = await second.batchStatistics()
            #expect(statistics.batches + other.batches > 0, "no batch formed: the chained path was not taken")
            for runtime in [first, second] {
                #expect(
                    try await runtime.entity(aggregate: "BankAccount", id: "hot").state?["balance"] == .integer(Int64(acknowledged.count)))
            }
        }
    }
}
