import Foundation
import JSON
import MessageStore
import TestSupport
import Testing

@testable import ThaloRuntime

/// Runs `body` with a runtime over a fresh store of `backend` with the given examples published.
func withRuntime<T: Sendable>(
    _ backend: Backend, publishing examples: [String] = ["bank_account"], configuration: RuntimeConfiguration = RuntimeConfiguration(),
    _ body: @Sendable (Runtime<AnyModuleStore>) async throws -> T
) async throws -> T {
    try await withStore(backend) { (store: AnyMessageStore) async throws -> T in
        let runtime = Runtime(store: AnyModuleStore(store), configuration: configuration)
        for example in examples {
            let built = try await ExampleModules.shared.build(example)
            try await runtime.publish(schema: built.schema, wasm: built.wasm)
        }
        return try await body(runtime)
    }
}

/// Two runtimes on one store, as two processes would be; the first publishes the bank account.
func twoBankRuntimes(
    on store: AnyMessageStore, maximumConflictRetries: Int
) async throws -> (Runtime<AnyModuleStore>, Runtime<AnyModuleStore>) {
    let built = try await ExampleModules.shared.build("bank_account")
    let configuration = RuntimeConfiguration(maximumConflictRetries: maximumConflictRetries)
    let first = Runtime(store: AnyModuleStore(store), configuration: configuration)
    try await first.publish(schema: built.schema, wasm: built.wasm)
    return (first, Runtime(store: AnyModuleStore(store), configuration: configuration))
}

/// Deposits 1, `rounds` times from each caller (a runtime each, concurrently), on the account
/// `account(caller, round)` names; returns the command ids that were acknowledged.
func depositConcurrently(
    from callers: [Runtime<AnyModuleStore>], rounds: Int, account: @escaping @Sendable (Int, Int) -> String
) async throws -> [UUID] {
    try await withThrowingTaskGroup(of: [UUID].self) { group in
        for (caller, runtime) in callers.enumerated() {
            group.addTask {
                var ids: [UUID] = []
                for round in 0..<rounds {
                    let id = UUID()
                    _ = try await runtime.execute(bank(account(caller, round), "deposit_funds", ["amount": 1], commandID: id))
                    ids.append(id)
                }
                return ids
            }
        }
        var all: [UUID] = []
        for try await ids in group { all += ids }
        return all
    }
}

/// Expects each account's stream to be gapless and to hold, after its opening event, one
/// event for each acknowledged command id and nothing else.
func expectEachWrittenOnce(_ acknowledged: [UUID], accounts: [String], in store: AnyMessageStore) async throws {
    var seen: [String: Int] = [:]
    var total = 0
    for account in accounts {
        let messages = try await store.readWholeStream(StreamName(category: "bankAccount", id: account))
        #expect(messages.map(\.position) == Array(0..<Int64(messages.count)))
        for message in messages.dropFirst() {
            seen[try message.parsedMetadata().properties["commandId"]?.stringValue ?? "?", default: 0] += 1
        }
        total += messages.count - 1
    }
    #expect(total == acknowledged.count)
    for id in acknowledged { #expect(seen[id.uuidString.lowercased()] == 1) }
}

/// Events with their JSON parsed, so that PostgreSQL's jsonb formatting does not matter.
func normalized(_ events: [RecordedEvent]) throws -> [[JSONValue]] {
    try events.map { event in
        [
            .string(event.id.uuidString), .string(event.type), try JSONValue(parsing: event.data),
            try event.metadata.map { try JSONValue(parsing: $0) } ?? .null, .string(event.streamName.rawValue),
            .integer(event.position), .integer(event.globalPosition), .integer(event.time.microsecondsSinceEpoch),
        ]
    }
}

func bank(_ id: String, _ command: String, _ payload: JSONValue, commandID: UUID? = nil) -> CommandRequest {
    CommandRequest(aggregate: "BankAccount", id: id, command: command, payload: payload, commandID: commandID)
}

@Suite("Runtime: command pipeline")
struct RuntimeTests {
    @Test(
        "the bank account runs end to end: open, deposit, withdraw, overdraft rejected",
        arguments: [Backend.sqlite, .postgres] + Backend.officialMessageDBInstalls)
    func bankAccount(backend: Backend) async throws {
        try await withRuntime(backend) { runtime in
            let opened = try await runtime.execute(bank("1", "open_account", ["initial_balance": 100]))
            #expect(opened.outcome.events.map(\.type) == ["OpenedAccount"])
            #expect(opened.outcome.events.first?.position == 0)
            #expect(opened.streamName == "bankAccount-1")
            let deposited = try await runtime.execute(bank("1", "deposit_funds", ["amount": 50]))
            #expect(deposited.outcome.events.first?.position == 1)
            let withdrawn = try await runtime.execute(bank("1", "withdraw_funds", ["amount": 120]))
            #expect(try JSONValue(parsing: withdrawn.outcome.events[0].data) == ["amount": 120])
            let overdraft = await #expect(throws: RuntimeError.self) {
                try await runtime.execute(bank("1", "withdraw_funds", ["amount": 31]))
            }
            #expect(overdraft?.code == .rejected)
            #expect(overdraft?.message == "insufficient funds")
            let messages = try await runtime.store.readStream("bankAccount-1")
            #expect(messages.map(\.type) == ["OpenedAccount", "DepositedFunds", "WithdrewFunds"])
            let view = try await runtime.entity(aggregate: "BankAccount", id: "1")
            #expect(view.state == ["open": true, "balance": 30])
        }
    }

    @Test("bad payloads, unknown commands and aggregates are distinct errors and write nothing", arguments: [Backend.sqlite])
    func validationErrors(backend: Backend) async throws {
        try await withRuntime(backend) { runtime in
            let payload = await #expect(throws: RuntimeError.self) {
                try await runtime.execute(bank("2", "open_account", ["initial_balance": "lots"]))
            }
            #expect(payload?.code == .invalidPayload)
            #expect(payload?.payloadErrors.map(\.path) == ["initial_balance"])
            let range = await #expect(throws: RuntimeError.self) {
                try await runtime.execute(bank("2", "deposit_funds", ["amount": 3_000_000_000]))
            }
            #expect(range?.code == .invalidPayload)
            let unknownField = await #expect(throws: RuntimeError.self) {
                try await runtime.execute(bank("2", "open_account", ["initial_balance": 1, "extra": true]))
            }
            #expect(unknownField?.payloadErrors.first?.path == "extra")
            let command = await #expect(throws: RuntimeError.self) {
                try await runtime.execute(bank("2", "close_account", [:]))
            }
            #expect(command?.code == .unknownCommand)
            let aggregate = await #expect(throws: RuntimeError.self) {
                try await runtime.execute(CommandRequest(aggregate: "Spaceship", id: "1", command: "launch", payload: [:]))
            }
            #expect(aggregate?.code == .unknownAggregate)
            let id = await #expect(throws: RuntimeError.self) {
                try await runtime.execute(bank("has space", "open_account", ["initial_balance": 1]))
            }
            #expect(id?.code == .invalidEntityID)
            #expect(try await runtime.store.readCategory("bankAccount").isEmpty)
            // The category name works as the aggregate name too.
            let byCategory = try await runtime.execute(
                CommandRequest(aggregate: "bankAccount", id: "2", command: "open_account", payload: ["initial_balance": 1]))
            #expect(byCategory.aggregate == "BankAccount")
        }
    }

    @Test(
        "a repeated command id returns the original events and writes nothing, also after a restart",
        arguments: [Backend.sqlite, .postgres] + Backend.officialMessageDBInstalls)
    func idempotency(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            let built = try await ExampleModules.shared.build("bank_account")
            let first = Runtime(store: AnyModuleStore(store))
            try await first.publish(schema: built.schema, wasm: built.wasm)
            let id = UUID()
            let original = try await first.execute(bank("7", "open_account", ["initial_balance": 10], commandID: id))
            let again = try await first.execute(bank("7", "open_account", ["initial_balance": 10], commandID: id))
            guard case .duplicate(let events) = again.outcome else {
                Issue.record("expected a duplicate, got \(again.outcome)")
                return
            }
            #expect(try normalized(events) == normalized(original.outcome.events))
            // A new runtime (a restart) rebuilds the entity and still knows the command id.
            let restarted = Runtime(store: AnyModuleStore(store))
            let afterRestart = try await restarted.execute(bank("7", "open_account", ["initial_balance": 10], commandID: id))
            guard case .duplicate(let replayed) = afterRestart.outcome else {
                Issue.record("expected a duplicate after the restart, got \(afterRestart.outcome)")
                return
            }
            #expect(try normalized(replayed) == normalized(original.outcome.events))
            #expect(try await store.readStream("bankAccount-7").count == 1)
        }
    }

    @Test("events carry causation, correlation, command id and the module that wrote them", arguments: [Backend.sqlite])
    func eventMetadata(backend: Backend) async throws {
        try await withRuntime(backend) { runtime in
            let id = UUID()
            var request = bank("3", "open_account", ["initial_balance": 5], commandID: id)
            request.metadata = Metadata(correlationStreamName: "signup-9", replyStreamName: "signupReply-9")
            let result = try await runtime.execute(request)
            let metadata = try Metadata(jsonText: try #require(result.outcome.events.first?.metadata))
            #expect(metadata.causationMessageStreamName == "bankAccount:command-3")
            #expect(metadata.correlationStreamName == "signup-9")
            #expect(metadata.replyStreamName == "signupReply-9")
            #expect(metadata.properties["commandId"] == .string(id.uuidString.lowercased()))
            #expect(metadata.properties["moduleName"] == "BankAccount")
            #expect(metadata.properties["moduleVersion"] == .string(result.moduleVersion))
            // The store files the event under its correlation (the runtime vouches for it
            // instead of the store parsing the metadata again): a category read filtered on
            // the correlation finds it, one filtered on another does not.
            let correlated = try await runtime.store.readCategory(
                "bankAccount", from: 0, batchSize: 10, correlation: "signup", consumerGroup: nil, condition: nil)
            #expect(correlated.map(\.id) == result.outcome.events.map(\.id))
            let elsewhere = try await runtime.store.readCategory(
                "bankAccount", from: 0, batchSize: 10, correlation: "order", consumerGroup: nil, condition: nil)
            #expect(elsewhere.isEmpty)
        }
    }

    @Test("time travel shows the events and state up to a position or a time", arguments: [Backend.sqlite])
    func timeTravel(backend: Backend) async throws {
        try await withRuntime(backend) { runtime in
            _ = try await runtime.execute(bank("4", "open_account", ["initial_balance": 10]))
            _ = try await runtime.execute(bank("4", "deposit_funds", ["amount": 5]))
            try await Task.sleep(for: .milliseconds(20))
            let between = Timestamp.now()
            try await Task.sleep(for: .milliseconds(20))
            _ = try await runtime.execute(bank("4", "deposit_funds", ["amount": 7]))
            let atZero = try await runtime.entity(aggregate: "BankAccount", id: "4", at: .position(0))
            #expect(atZero.events.count == 1)
            #expect(atZero.state == ["open": true, "balance": 10])
            let atTime = try await runtime.entity(aggregate: "BankAccount", id: "4", at: .time(between))
            #expect(atTime.version == 1)
            #expect(atTime.state == ["open": true, "balance": 15])
            let latest = try await runtime.entity(aggregate: "BankAccount", id: "4")
            #expect(latest.state == ["open": true, "balance": 22])
            let never = try await runtime.entity(aggregate: "BankAccount", id: "nobody")
            #expect(never.version == -1)
            #expect(never.state == ["open": false, "balance": 0])
        }
    }
}
