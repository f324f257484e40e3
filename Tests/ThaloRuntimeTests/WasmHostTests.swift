import ESDL
import Foundation
import GuestBuilder
import JSON
import MessageStore
import TestSupport
import Testing

@testable import ThaloRuntime

/// The misbehaving C module of Tests/Fixtures/misbehaving, built once.
actor Fixtures {
    static let shared = Fixtures()
    private var misbehaving: Task<(schema: String, wasm: [UInt8]), any Error>?

    func misbehavingModule() async throws -> (schema: String, wasm: [UInt8]) {
        if let misbehaving { return try await misbehaving.value }
        let task = Task<(schema: String, wasm: [UInt8]), any Error> {
            let folder = ExampleModules.repositoryRoot.appendingPathComponent("Tests/Fixtures/misbehaving")
            let output = FileManager.default.temporaryDirectory.appendingPathComponent("thalo-fixtures-\(getpid())")
            let result = try await GuestBuilder(configuration: .init(outputDirectory: output)).build(directory: folder)
            let schema = try String(contentsOf: folder.appendingPathComponent("misbehaving.esdl"), encoding: .utf8)
            return (schema, try [UInt8](Data(contentsOf: result.wasmURL)))
        }
        misbehaving = task
        return try await task.value
    }
}

@Suite("Wasm host: limits and misbehaving modules")
struct WasmHostTests {
    static func misbehaving(limits: ModuleLimits = ModuleLimits(fuelPerCall: 20_000_000, maximumMemoryBytes: 8 << 20)) async throws
        -> AggregateModule
    {
        let (schemaText, wasm) = try await Fixtures.shared.misbehavingModule()
        let schema = try Schema.parse(schemaText)
        return try AggregateModule(name: "Misbehaving", version: schema.version, schema: schema, bytes: wasm, limits: limits)
    }

    static func context() -> GuestContext {
        GuestContext(
            id: UUID().uuidString.lowercased(), streamName: "misbehaving:command-1", position: -1, globalPosition: -1, metadata: "{}",
            time: 0)
    }

    @Test(
        "each kind of misbehaviour is an error naming the module and export, and the host goes on",
        arguments: [
            ("spin", "exceeded its budget"),
            ("grow", "past the cap of 8388608 bytes"),
            ("trap", "trapped"),
            ("recurse", "trapped"),
            ("bad_pointer", "lies outside memory"),
            ("bad_tag", "result tag 7"),
            ("bad_utf8", "not valid UTF-8"),
        ])
    func misbehaviour(command: String, expected: String) async throws {
        let module = try await Self.misbehaving()
        // Up to a whole fuel budget of interpreted wasm: on a thread of its own, not on the
        // cooperative pool every concurrently running test shares.
        let (failure, elapsed, poisoned, freshEvents) = try await onOwnThread {
            () throws -> (GuestFailure?, Duration, Bool, [String]?) in
            let guest = try GuestInstance(module: module)
            let entity = try guest.newEntity(id: "1")
            let clock = ContinuousClock()
            let start = clock.now
            var failure: GuestFailure?
            do throws(GuestFailure) {
                _ = try guest.handle(entity, command: command, payload: "{}", context: Self.context())
            } catch {
                failure = error
            }
            let elapsed = clock.now - start
            // A fresh instance of the same module works.
            let fresh = try GuestInstance(module: module)
            let handled = try fresh.handle(try fresh.newEntity(id: "2"), command: "ok", payload: #"{"n":1}"#, context: Self.context())
            return (failure, elapsed, guest.isPoisoned, (try? handled.get())?.map(\.type))
        }
        let error = try #require(failure, "\(command) should have failed")
        #expect(error.description.contains(expected), "\(error)")
        #expect(error.export.contains("handle"))
        #expect(elapsed < .seconds(120))
        #expect(poisoned)
        #expect(freshEvents == ["Done"])
    }

    @Test("through the runtime, a misbehaving command fails clearly and other entities and modules keep working")
    func runtimeSurvives() async throws {
        try await withStore(.sqlite) { (store: AnyMessageStore) async throws -> Void in
            let configuration = RuntimeConfiguration(
                instancesPerModule: 1, limits: ModuleLimits(fuelPerCall: 20_000_000, maximumMemoryBytes: 8 << 20))
            let runtime = Runtime(store: AnyModuleStore(store), configuration: configuration)
            let (schema, wasm) = try await Fixtures.shared.misbehavingModule()
            try await runtime.publish(schema: schema, wasm: wasm)
            let bank = try await ExampleModules.shared.build("bank_account")
            try await runtime.publish(schema: bank.schema, wasm: bank.wasm)
            _ = try await runtime.execute(CommandRequest(aggregate: "Misbehaving", id: "a", command: "ok", payload: ["n": 1]))
            for command in ["spin", "grow", "trap", "bad_pointer"] {
                let error = await #expect(throws: RuntimeError.self) {
                    try await runtime.execute(CommandRequest(aggregate: "Misbehaving", id: "a", command: command, payload: [:]))
                }
                #expect(error?.code == .moduleFailure)
                #expect(error?.message.contains("Misbehaving 0.1.0") == true, "\(error?.message ?? "")")
                // The same entity is rebuilt from its stream in a new instance and keeps working.
                let ok = try await runtime.execute(CommandRequest(aggregate: "Misbehaving", id: "a", command: "ok", payload: ["n": 1]))
                #expect(ok.outcome.events.count == 1)
                _ = try await runtime.execute(
                    CommandRequest(aggregate: "BankAccount", id: command, command: "open_account", payload: ["initial_balance": 1]))
            }
            #expect(try await store.readStream("misbehaving-a").count == 5)
            let wrongEvent = await #expect(throws: RuntimeError.self) {
                try await runtime.execute(CommandRequest(aggregate: "Misbehaving", id: "b", command: "bad_event", payload: [:]))
            }
            #expect(wrongEvent?.code == .invalidEvents)
            #expect(try await store.streamVersion("misbehaving-b") == nil)
        }
    }

    @Test("a module that imports something or lacks exports is refused at publish, and nothing is stored")
    func publishChecks() async throws {
        try await withStore(.sqlite) { (store: AnyMessageStore) async throws -> Void in
            let runtime = Runtime(store: AnyModuleStore(store))
            let bank = try await ExampleModules.shared.build("bank_account")
            // Not wasm at all.
            let garbage = await #expect(throws: RuntimeError.self) { try await runtime.publish(schema: bank.schema, wasm: [1, 2, 3]) }
            #expect(garbage?.code == .invalidModule)
            // A valid module that is not an aggregate: (module (import "env" "f" (func)))
            let importing: [UInt8] = [0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 2, 9, 1, 3, 101, 110, 118, 1, 102, 0, 0]
            let imports = await #expect(throws: RuntimeError.self) { try await runtime.publish(schema: bank.schema, wasm: importing) }
            #expect(imports?.message.contains("imports env.f") == true, "\(imports?.message ?? "")")
            let empty: [UInt8] = [0, 97, 115, 109, 1, 0, 0, 0]
            let missing = await #expect(throws: RuntimeError.self) { try await runtime.publish(schema: bank.schema, wasm: empty) }
            #expect(missing?.message.contains("missing thalo:aggregate/aggregate@0.1.0#abi-version") == true)
            // Invalid ESDL, with its diagnostics.
            let esdl = await #expect(throws: RuntimeError.self) {
                try await runtime.publish(schema: "version = \"1\"\naggregate X {}", wasm: bank.wasm, file: "x.esdl")
            }
            #expect(esdl?.message.contains("x.esdl:1:") == true, "\(esdl?.message ?? "")")
            // The wrong aggregate name.
            let name = await #expect(throws: RuntimeError.self) {
                try await runtime.publish(schema: bank.schema, wasm: bank.wasm, expectedName: "Counter")
            }
            #expect(name?.code == .invalidModule)
            #expect(try await runtime.registry.list().isEmpty)
            // A good publish; the same version with another module is refused.
            try await runtime.publish(schema: bank.schema, wasm: bank.wasm)
            let other = await #expect(throws: RuntimeError.self) { try await runtime.publish(schema: bank.schema, wasm: bank.wasm + [0]) }
            #expect(other?.code == .versionExists)
            // The very same module again is a retry: it succeeds, and is stored once.
            let retried = try await runtime.publish(schema: bank.schema, wasm: bank.wasm)
            #expect(retried.version.description == "0.1.0")
            #expect(try await runtime.registry.list().count == 1)
        }
    }

    @Test("a version stored by a publish whose answer was lost (a 503 whose insert committed later) runs once it is published again")
    func publishRetryAfterLostAnswer() async throws {
        try await withStore(.sqlite) { (store: AnyMessageStore) async throws -> Void in
            let modules = AnyModuleStore(store)
            let runtime = Runtime(store: modules)
            let bank = try await ExampleModules.shared.build("bank_account")
            try await runtime.publish(schema: bank.schema, wasm: bank.wasm)
            _ = try await runtime.execute(
                CommandRequest(aggregate: "BankAccount", id: "r", command: "open_account", payload: ["initial_balance": 5]))
            // 0.2.0 reached the registry, but its publish never got to make it the running version.
            let newer = bank.schema.replacingOccurrences(of: "version = \"0.1.0\"", with: "version = \"0.2.0\"")
            #expect(newer != bank.schema)
            try await modules.saveModule(
                StoredModule(name: "BankAccount", version: "0.2.0", schema: newer, wasm: bank.wasm, publishedAt: .now()))
            #expect(runtime.activeVersions()["BankAccount"]?.description == "0.1.0")
            // Sent again, it is not stored twice and it takes over.
            let retried = try await runtime.publish(schema: newer, wasm: bank.wasm)
            #expect(retried.version.description == "0.2.0")
            #expect(runtime.activeVersions()["BankAccount"]?.description == "0.2.0")
            #expect(try await runtime.registry.versions(of: "BankAccount").map(\.version.description) == ["0.1.0", "0.2.0"])
            let result = try await runtime.execute(
                CommandRequest(aggregate: "BankAccount", id: "r", command: "deposit_funds", payload: ["amount": 1]))
            #expect(result.moduleVersion == "0.2.0")
            // An older version, even the very same module, is still refused: a rollback is `activate`.
            let older = await #expect(throws: RuntimeError.self) { try await runtime.publish(schema: bank.schema, wasm: bank.wasm) }
            #expect(older?.code == .versionExists)
            // A retry that looked before the insert it repeats had committed meets that insert
            // when it stores: the very same module is its success, another one is refused.
            let third = bank.schema.replacingOccurrences(of: "version = \"0.1.0\"", with: "version = \"0.3.0\"")
            let prepared = try await runtime.registry.prepare(schema: third, wasm: bank.wasm, expectedName: nil, file: "b.esdl")
            var otherPrepared = prepared
            otherPrepared.stored.wasm = bank.wasm + [0]
            try await modules.saveModule(
                StoredModule(name: "BankAccount", version: "0.3.0", schema: third, wasm: bank.wasm, publishedAt: .now()))
            #expect(try await runtime.registry.store(prepared).version.description == "0.3.0")
            let raced = await #expect(throws: RuntimeError.self) { try await runtime.registry.store(otherPrepared) }
            #expect(raced?.code == .versionExists)
            #expect(try await runtime.registry.versions(of: "BankAccount").map(\.version.description) == ["0.1.0", "0.2.0", "0.3.0"])
        }
    }

    @Test(
        "the example specs pass, for the Swift examples, the Rust one and the C one",
        arguments: ["bank_account", "counter", "todos", "wallet", "bank_account_rust", "c_counter"])
    func exampleSpecs(example: String) async throws {
        let built = try await ExampleModules.shared.build(example)
        let schema = try Schema.parse(built.schema)
        let module = try AggregateModule(name: schema.aggregate.name, version: schema.version, schema: schema, bytes: built.wasm)
        let folder = ExampleModules.folder(example).appendingPathComponent("Tests")
        let specFile = try #require(try FileManager.default.contentsOfDirectory(atPath: folder.path).first { $0.hasSuffix(".spec.json") })
        let spec = try AggregateSpec(jsonText: String(contentsOf: folder.appendingPathComponent(specFile), encoding: .utf8))
        let results = try spec.run(module)
        #expect(results.count == spec.scenarios.count)
        #expect(results.count >= 4)
        for result in results {
            #expect(result.passed, "\(example): \(result.name): \(result.problems.joined(separator: "; "))")
        }
    }

    @Test("specs see what the server does: numbers compare by value, a missing field is null, an invalid payload never reaches the module")
    func specSemantics() async throws {
        let built = try await ExampleModules.shared.build("bank_account")
        let schema = try Schema.parse(built.schema)
        let module = try AggregateModule(name: schema.aggregate.name, version: schema.version, schema: schema, bytes: built.wasm)
        let spec = try AggregateSpec(
            jsonText: """
                { "aggregate": "BankAccount", "scenarios": [
                  { "name": "numbers by value", "given": [], "when": { "command": "open_account", "payload": { "initial_balance": 5 } },
                    "then": { "events": [{ "type": "OpenedAccount", "payload": { "initial_balance": 5.0 } }],
                              "state": { "open": true, "balance": 5.0, "note": null } } },
                  { "name": "integral numbers reach the module as integers", "given": [],
                    "when": { "command": "open_account", "payload": { "initial_balance": 7.0 } },
                    "then": { "events": [{ "type": "OpenedAccount", "payload": { "initial_balance": 7 } }] } },
                  { "name": "an invalid payload is refused", "given": [], "when": { "command": "deposit_funds", "payload": { "amount": "ten" } },
                    "then": { "error": { "invalidPayload": null } } },
                  { "name": "an invalid payload expected to reach the module", "given": [],
                    "when": { "command": "deposit_funds", "payload": {} }, "then": { "error": { "deserializeCommand": null } } },
                  { "name": "a wrong number still fails", "given": [], "when": { "command": "open_account", "payload": { "initial_balance": 5 } },
                    "then": { "events": [{ "type": "OpenedAccount", "payload": { "initial_balance": 5.5 } }] } }
                ] }
                """)
        let results = try spec.run(module)
        #expect(results.map(\.passed) == [true, true, true, false, false], "\(results.map(\.problems))")
        #expect(results[3].problems.first?.contains("the server answers 400 invalidPayload") == true, "\(results[3].problems)")
        #expect(results[3].problems.first?.contains("amount: missing required field") == true, "\(results[3].problems)")
        // A misspelt error key is refused when the file is read.
        #expect(throws: RuntimeError.self) {
            try AggregateSpec(
                jsonText: """
                    { "aggregate": "BankAccount", "scenarios": [{ "name": "x", "when": { "command": "open_account" }, "then": { "error": { "comand": "x" } } }] }
                    """)
        }
    }

    @Test("a spec that expects the wrong thing fails with what was expected and what happened")
    func specFailures() async throws {
        let built = try await ExampleModules.shared.build("bank_account")
        let schema = try Schema.parse(built.schema)
        let module = try AggregateModule(name: schema.aggregate.name, version: schema.version, schema: schema, bytes: built.wasm)
        let spec = try AggregateSpec(
            jsonText: """
                { "aggregate": "BankAccount", "scenarios": [
                  { "name": "wrong event", "given": [], "when": { "command": "open_account", "payload": { "initial_balance": 5 } },
                    "then": { "events": [{ "type": "OpenedAccount", "payload": { "initial_balance": 6 } }] } },
                  { "name": "wrong error", "given": [], "when": { "command": "deposit_funds", "payload": { "amount": 1 } },
                    "then": { "error": { "command": "something else" } } },
                  { "name": "wrong state", "given": [{ "type": "OpenedAccount", "payload": { "initial_balance": 1 } }],
                    "when": { "command": "deposit_funds", "payload": { "amount": 1 } },
                    "then": { "events": [{ "type": "DepositedFunds", "payload": { "amount": 1 } }], "state": { "open": true, "balance": 3 } } }
                ] }
                """)
        let results = try spec.run(module)
        #expect(results.map(\.passed) == [false, false, false])
        #expect(results[0].problems.first?.contains("initial_balance\":6") == true)
        #expect(results[1].problems.first?.contains("account is not open") == true)
        #expect(results[2].problems.first?.contains("\"balance\":2") == true)
        #expect(throws: RuntimeError.self) { try AggregateSpec(jsonText: #"{"aggregate": "X", "scenarios": [{"when": {}}]}"#) }
        let otherAggregate = try AggregateSpec(
            jsonText:
                #"{"aggregate": "Counter", "scenarios": [{"name": "n", "when": {"command": "increment", "payload": {"amount": 1}}, "then": {"events": []}}]}"#
        )
        let mismatch = #expect(throws: RuntimeError.self) { try otherAggregate.run(module) }
        #expect(mismatch?.message == "the spec is for aggregate Counter, but the module implements BankAccount")
    }

    @Test("event metadata, as the server writes it and thalo test applies it, carries the causation position and the module digest")
    func specMetadata() async throws {
        let built = try await ExampleModules.shared.build("counter")
        let schema = try Schema.parse(built.schema)
        let module = try AggregateModule(name: schema.aggregate.name, version: schema.version, schema: schema, bytes: built.wasm)
        let spec = try AggregateSpec(
            jsonText: """
                { "aggregate": "Counter", "scenarios": [
                  { "name": "a command from the command stream", "given": [],
                    "when": { "command": "increment", "payload": { "amount": 2 }, "position": 7 },
                    "then": { "events": [{ "type": "Incremented", "payload": { "amount": 2, "count": 2 } }], "state": { "count": 2 } } }
                ] }
                """)
        #expect(try spec.run(module).map(\.passed) == [true])
        let metadata = try Metadata.events(
            of: UUID(), stream: "counter:command-1", position: 7, globalPosition: 8, commandMetadata: Metadata(),
            digest: CommandDigest(command: "increment", payloadText: "{}"), module: module)
        #expect(metadata.causationMessagePosition == 7)
        #expect(metadata.properties["moduleDigest"] == .string(module.digest))
    }

    @Test("event metadata written directly, for a command without metadata, is the text of the general path")
    func directEventMetadata() async throws {
        let built = try await ExampleModules.shared.build("counter")
        let schema = try Schema.parse(built.schema)
        let module = try AggregateModule(name: schema.aggregate.name, version: schema.version, schema: schema, bytes: built.wasm)
        let streams: [StreamName] = ["counter:command-1", "counter:command-a\"b\\c", "counter:command-é✓", "counter:command-\u{7F}x"]
        for stream in streams {
            for (position, globalPosition) in [(-1, -1), (0, 1), (7, 8), (Int64.max, Int64.max)] as [(Int64, Int64)] {
                let id = UUID.random()
                let digest = CommandDigest(command: "increment", payloadText: #"{"amount":2}"#)
                let general = Metadata.events(
                    of: id, stream: stream, position: position, globalPosition: globalPosition, commandMetadata: Metadata(),
                    digest: digest, module: module)
                let direct = Metadata.eventsText(
                    of: id, stream: stream, position: position, globalPosition: globalPosition, digest: digest, module: module)
                #expect(direct == general.jsonText, "\(stream) at \(position)")
                #expect(try Metadata(jsonText: direct) == general)
            }
        }
    }
}
