import ESDL
import Foundation
import GuestBuilder
import JSON
import MessageStore
import TestSupport
import Testing

@testable import ThaloRuntime

/// Builds bank_account with a new version and a changed rule, for upgrade tests.
actor UpgradedBankAccount {
    static let shared = UpgradedBankAccount()
    private var built: Task<(schema: String, wasm: [UInt8]), any Error>?

    func build() async throws -> (schema: String, wasm: [UInt8]) {
        if let built { return try await built.value }
        let task = Task<(schema: String, wasm: [UInt8]), any Error> {
            let source = ExampleModules.folder("bank_account")
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("thalo-upgrade-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            var schema = try String(contentsOf: source.appendingPathComponent("bank_account.esdl"), encoding: .utf8)
            schema = schema.replacingOccurrences(of: "version = \"0.1.0\"", with: "version = \"0.2.0\"")
            try schema.write(to: folder.appendingPathComponent("bank_account.esdl"), atomically: true, encoding: .utf8)
            let code = try String(contentsOf: source.appendingPathComponent("BankAccount.swift"), encoding: .utf8)
                .replacingOccurrences(of: "\"insufficient funds\"", with: "\"insufficient funds (rule of 0.2.0)\"")
            try code.write(to: folder.appendingPathComponent("BankAccount.swift"), atomically: true, encoding: .utf8)
            let result = try await GuestBuilder().build(directory: folder)
            return (schema, try [UInt8](Data(contentsOf: result.wasmURL)))
        }
        built = task
        return try await task.value
    }
}

@Suite("Runtime: concurrency, submit, cache, upgrade")
struct RuntimeBehaviourTests {
    @Test(
        "concurrent commands on one entity run one at a time: every one is recorded, positions gapless",
        arguments: [Backend.sqlite, .postgres])
    func concurrentSameEntity(backend: Backend) async throws {
        try await withRuntime(backend) { runtime in
            _ = try await runtime.execute(bank("hot", "open_account", ["initial_balance": 0]))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<40 {
                    group.addTask { _ = try await runtime.execute(bank("hot", "deposit_funds", ["amount": 1])) }
                }
                try await group.waitForAll()
            }
            let messages = try await runtime.store.readStream("bankAccount-hot")
            #expect(messages.map(\.position) == Array(0...40))
            #expect(try await runtime.entity(aggregate: "BankAccount", id: "hot").state == ["open": true, "balance": 40])
        }
    }

    @Test(
        "two runtimes on one store (as two processes): conflicts are retried, nothing lost or doubled",
        arguments: [Backend.sqlite, .postgres])
    func twoRuntimes(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            let (first, second) = try await twoBankRuntimes(on: store, maximumConflictRetries: 50)
            let accounts = ["a", "b", "c"]
            for account in accounts { _ = try await first.execute(bank(account, "open_account", ["initial_balance": 0])) }
            let acknowledged = try await depositConcurrently(from: [first, second, first, second], rounds: 15) { caller, round in
                accounts[(caller + round) % accounts.count]
            }
            try await expectEachWrittenOnce(acknowledged, accounts: accounts, in: store)
        }
    }

    @Test(
        "a live entity that another runtime moved on decides on the new state: no stale rejection, no stale duplicate",
        arguments: [Backend.sqlite, .postgres])
    func staleLiveEntity(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            let built = try await ExampleModules.shared.build("bank_account")
            let first = Runtime(store: AnyModuleStore(store))
            try await first.publish(schema: built.schema, wasm: built.wasm)
            let second = Runtime(store: AnyModuleStore(store))
            // The first runtime holds the account live with a balance of 0.
            _ = try await first.execute(bank("s", "open_account", ["initial_balance": 0]))
            // The second runtime deposits 100: the first runtime's entity is now behind.
            _ = try await second.execute(bank("s", "deposit_funds", ["amount": 100]))
            // On its stale state the withdrawal would be rejected (insufficient funds);
            // the first runtime must catch up and accept it.
            let withdrawn = try await first.execute(bank("s", "withdraw_funds", ["amount": 60]))
            #expect(withdrawn.outcome.events.map(\.position) == [2])
            // A write on the stale entity conflicts, catches up and lands after the others.
            _ = try await second.execute(bank("s", "deposit_funds", ["amount": 5]))
            let deposited = try await first.execute(bank("s", "deposit_funds", ["amount": 1]))
            #expect(deposited.outcome.events.map(\.position) == [4])
            // A command id the second runtime handled is a duplicate for the first one too.
            let id = UUID()
            let original = try await second.execute(bank("s", "deposit_funds", ["amount": 7], commandID: id))
            let repeated = try await first.execute(bank("s", "deposit_funds", ["amount": 7], commandID: id))
            guard case .duplicate(let events) = repeated.outcome else {
                Issue.record("expected a duplicate, got \(repeated.outcome)")
                return
            }
            #expect(events.map(\.id) == original.outcome.events.map(\.id))
            let view = try await first.entity(aggregate: "BankAccount", id: "s")
            #expect(view.state == ["open": true, "balance": 53])
            #expect(try await store.readWholeStream("bankAccount-s").count == 6)
        }
    }

    @Test(
        "a command sent without an id gets a time-ordered one; its events keep the time, and repeating it writes nothing",
        arguments: [Backend.sqlite, .postgres])
    func timeOrderedCommandIDs(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            let built = try await ExampleModules.shared.build("bank_account")
            let runtime = Runtime(store: AnyModuleStore(store))
            try await runtime.publish(schema: built.schema, wasm: built.wasm)
            func milliseconds(_ id: UUID) -> Int64 {
                withUnsafeBytes(of: id.uuid) { bytes in bytes.prefix(6).reduce(Int64(0)) { $0 << 8 | Int64($1) } }
            }
            let before = Timestamp.now().microsecondsSinceEpoch / 1_000
            let opened = try await runtime.execute(bank("t", "open_account", ["initial_balance": 5]))
            let after = Timestamp.now().microsecondsSinceEpoch / 1_000
            #expect(opened.commandID.isTimeOrdered)
            #expect((before...after).contains(milliseconds(opened.commandID)))
            let stored = try await store.readWholeStream("bankAccount-t")
            #expect(stored.map(\.id) == opened.outcome.events.map(\.id))
            for message in stored {
                #expect(message.id.isTimeOrdered)
                #expect(milliseconds(message.id) == milliseconds(opened.commandID), "\(message.id) of \(opened.commandID)")
                #expect(message.id != opened.commandID)
            }
            // The client retries with the id it was given: the original events, nothing new.
            let again = try await runtime.execute(bank("t", "open_account", ["initial_balance": 5], commandID: opened.commandID))
            guard case .duplicate(let events) = again.outcome else {
                Issue.record("expected a duplicate, got \(again.outcome)")
                return
            }
            #expect(events.map(\.id) == stored.map(\.id))
            #expect(try await store.readWholeStream("bankAccount-t").count == 1)
            // A later command's id is not smaller: ids written later sort after.
            let deposited = try await runtime.execute(bank("t", "deposit_funds", ["amount": 1]))
            #expect(milliseconds(deposited.commandID) >= milliseconds(opened.commandID))
            // A submitted command without an id is written under a time-ordered id too.
            let receipt = try await runtime.submit(bank("t", "deposit_funds", ["amount": 2]))
            #expect(receipt.commandID.isTimeOrdered)
            #expect(try await store.readWholeStream("bankAccount:command-t").map(\.id) == [receipt.commandID])
        }
    }

    @Test(
        "submitted commands, also ones written by other programs, are handled in order by the consumer",
        arguments: [Backend.sqlite, .postgres] + Backend.officialMessageDBInstalls)
    func submitAndConsume(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            let built = try await ExampleModules.shared.build("bank_account")
            let configuration = RuntimeConfiguration(registryPollInterval: .milliseconds(100))
            let runtime = Runtime(store: AnyModuleStore(store), configuration: configuration)
            try await runtime.publish(schema: built.schema, wasm: built.wasm)
            let consumer = Task { try await runtime.run() }
            let opened = try await runtime.submit(bank("s1", "open_account", ["initial_balance": 10]))
            #expect(opened.streamName == "bankAccount:command-s1")
            #expect(opened.position == 0)
            #expect(!opened.duplicate)
            let depositID = UUID()
            _ = try await runtime.submit(bank("s1", "deposit_funds", ["amount": 5], commandID: depositID))
            let again = try await runtime.submit(bank("s1", "deposit_funds", ["amount": 5], commandID: depositID))
            #expect(again.duplicate)
            #expect(again.position == 1)
            // Another program writes a command straight into the command stream.
            try await store.write(NewMessage(type: "withdraw_funds", data: ["amount": 3]), to: "bankAccount:command-s1")
            // And one that the aggregate rejects, asking for a reply.
            try await store.write(
                NewMessage(type: "withdraw_funds", data: ["amount": 1_000], metadata: Metadata(replyStreamName: "client-1")),
                to: "bankAccount:command-s1")
            try await waitUntil("bankAccount-s1 at version 2", timeout: .seconds(120)) {
                try await store.streamVersion("bankAccount-s1") == 2
            }
            try await waitUntil("client-1 at version 0", timeout: .seconds(120)) { try await store.streamVersion("client-1") == 0 }
            let events = try await store.readStream("bankAccount-s1")
            #expect(events.map(\.type) == ["OpenedAccount", "DepositedFunds", "WithdrewFunds"])
            let commands = try await store.readStream("bankAccount:command-s1")
            for (event, command) in zip(events, commands) {
                let metadata = try event.parsedMetadata()
                #expect(metadata.causationMessageStreamName == "bankAccount:command-s1")
                #expect(metadata.causationMessagePosition == command.position)
                #expect(metadata.causationMessageGlobalPosition == command.globalPosition)
                #expect(metadata.properties["commandId"]?.stringValue == command.id.uuidString.lowercased())
            }
            let reply = try #require(try await store.lastMessage(in: "client-1"))
            #expect(reply.type == "CommandRejected")
            #expect(try reply.dataJSON()["message"] == "insufficient funds")
            consumer.cancel()
            try await consumer.value
            let recorded = try #require(try await store.lastMessage(in: "bankAccount:command+position-thalo"))
            #expect(try recorded.dataJSON()["position"]?.integerValue == commands.last?.globalPosition)
            // A restarted consumer does not handle anything twice: a new command is the only
            // one it handles (the consumer goes in order, so a repeat would come first).
            let restarted = Runtime(store: AnyModuleStore(store), configuration: configuration)
            let second = Task { try await restarted.run() }
            try await store.write(NewMessage(type: "deposit_funds", data: ["amount": 1]), to: "bankAccount:command-s1")
            try await waitUntil("bankAccount-s1 at version 3", timeout: .seconds(120)) {
                (try await store.streamVersion("bankAccount-s1") ?? -1) >= 3
            }
            second.cancel()
            try await second.value
            #expect(
                try await store.readStream("bankAccount-s1").map(\.type) == [
                    "OpenedAccount", "DepositedFunds", "WithdrewFunds", "DepositedFunds",
                ])
            #expect(try await store.streamVersion("client-1") == 0)
        }
    }

    @Test("a redelivered command with a new id at an old position is ignored by the counter (ctx.processed)")
    func ignoredRedelivery() async throws {
        try await withRuntime(.sqlite, publishing: ["counter"]) { runtime in
            let store = runtime.store
            try await store.write(NewMessage(type: "increment", data: ["amount": 2]), to: "counter:command-1")
            let command = try #require(try await store.readStream("counter:command-1").first)
            let first = try await runtime.handleSubmitted(command)
            #expect(first.outcome.events.map(\.type) == ["Incremented"])
            var copy = command
            copy.id = UUID()
            let second = try await runtime.handleSubmitted(copy)
            #expect(second.outcome == .ignored(reason: "command already processed"))
            #expect(try await store.streamVersion("counter-1") == 0)
        }
    }

    @Test("the entity cache is bounded; evicted entities are rebuilt correctly on next use")
    func cacheEviction() async throws {
        let configuration = RuntimeConfiguration(cacheCapacity: 3, instancesPerModule: 1)
        try await withRuntime(.sqlite, configuration: configuration) { runtime in
            for index in 0..<8 {
                _ = try await runtime.execute(bank("e\(index)", "open_account", ["initial_balance": .integer(Int64(index))]))
            }
            let worker = try await runtime.aggregate("BankAccount").workers[0]
            #expect(await worker.liveEntities <= 3)
            _ = try await runtime.execute(bank("e0", "deposit_funds", ["amount": 5]))
            let withdraw = await #expect(throws: RuntimeError.self) {
                try await runtime.execute(bank("e1", "withdraw_funds", ["amount": 2]))
            }
            #expect(withdraw?.message == "insufficient funds")
            #expect(try await runtime.entity(aggregate: "BankAccount", id: "e0").state == ["open": true, "balance": 5])
            #expect(await worker.liveEntities <= 3)
        }
    }

    @Test(
        "publishing a new version upgrades live: new commands run on it and entities are rebuilt", arguments: [Backend.sqlite, .postgres])
    func liveUpgrade(backend: Backend) async throws {
        try await withRuntime(backend) { runtime in
            _ = try await runtime.execute(bank("u", "open_account", ["initial_balance": 10]))
            let old = await #expect(throws: RuntimeError.self) { try await runtime.execute(bank("u", "withdraw_funds", ["amount": 11])) }
            #expect(old?.message == "insufficient funds")
            let upgraded = try await UpgradedBankAccount.shared.build()
            let info = try await runtime.publish(schema: upgraded.schema, wasm: upgraded.wasm)
            #expect(info.version.description == "0.2.0")
            #expect(runtime.activeVersions()["BankAccount"]?.description == "0.2.0")
            let new = await #expect(throws: RuntimeError.self) { try await runtime.execute(bank("u", "withdraw_funds", ["amount": 11])) }
            #expect(new?.message == "insufficient funds (rule of 0.2.0)")
            #expect(new?.moduleVersion == "0.2.0")
            let deposit = try await runtime.execute(bank("u", "deposit_funds", ["amount": 1]))
            #expect(deposit.moduleVersion == "0.2.0")
            #expect(try Metadata(jsonText: deposit.outcome.events[0].metadata!).properties["moduleVersion"] == "0.2.0")
            #expect(try await runtime.entity(aggregate: "BankAccount", id: "u").state == ["open": true, "balance": 11])
            // Another runtime on the same store picks the newest version.
            let other = Runtime(store: runtime.store)
            let fromOther = try await other.execute(bank("u", "deposit_funds", ["amount": 1]))
            #expect(fromOther.moduleVersion == "0.2.0")
            // The registry lists both and answers semver requirements.
            let versions = try await runtime.registry.versions(of: "BankAccount").map(\.version.description)
            #expect(versions == ["0.1.0", "0.2.0"])
            #expect(
                try await runtime.registry.module(named: "BankAccount", matching: VersionRequirement("~0.1"))?.version.description
                    == "0.1.0")
            #expect(
                try await runtime.registry.module(named: "BankAccount", matching: VersionRequirement(">=0.2.0"))?.version.description
                    == "0.2.0")
            #expect(try await runtime.registry.module(named: "BankAccount", matching: VersionRequirement("^1")) == nil)
            // An older version cannot be published after a newer one.
            let built = try await ExampleModules.shared.build("bank_account")
            let stale = await #expect(throws: RuntimeError.self) { try await runtime.publish(schema: built.schema, wasm: built.wasm) }
            #expect(stale?.code == .versionExists)
        }
    }
}

@Suite("Command ids in event metadata")
struct CommandIDMetadataTests {
    @Test("the command id is found wherever it stands in the metadata")
    func found() throws {
        let id = UUID()
        let expected = id
        for text in [
            #"{"commandId":"\#(id.lowercasedText)"}"#,
            #"{"causationMessageStreamName":"a:command-1","commandId" : "\#(id.lowercasedText)","moduleName":"A"}"#,
            #"{"x":"commandId","commandId":"\#(id.uuidString)"}"#,
        ] {
            #expect(InstanceWorker<InMemoryMessageStore>.commandID(inMetadata: text) == expected, "\(text)")
        }
    }

    @Test("a command digest is written as 16 lowercase hexadecimal digits and read back")
    func digestText() {
        var generator = SystemRandomNumberGenerator()
        for value in [0, 1, 0xF, 0x10, UInt64.max, 1 << 63] + (0..<1_000).map({ _ in generator.next() as UInt64 }) {
            let digest = CommandDigest(value: value)
            let hex = String(value, radix: 16)
            #expect(digest.text == String(repeating: "0", count: 16 - hex.count) + hex)
            #expect(CommandDigest(text: digest.text) == digest)
        }
        // The digest of a command and payload is the first 8 bytes of the MD5 of both,
        // separated by a zero byte; events already stored carry it.
        #expect(CommandDigest(command: "deposit_funds", payloadText: #"{"amount":1}"#).text == "f1c9f4f4847393bf")
    }

    @Test("metadata without a well-formed command id gives none")
    func absent() {
        for text in ["", "{}", #"{"commandId":1}"#, #"{"commandId":"123"}"#, #"{"commandId":"#, #"{"commandI":"x"}"#] {
            #expect(InstanceWorker<InMemoryMessageStore>.commandID(inMetadata: text) == nil, "\(text)")
        }
    }
}
