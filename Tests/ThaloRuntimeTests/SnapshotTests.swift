import ESDL
import Foundation
import GuestBuilder
import JSON
import MessageStore
import TestSupport
import Testing

@testable import ThaloRuntime

/// A runtime on `store` with one instance per module and snapshots every `every` events.
private func runtime(_ store: AnyMessageStore, every: Int) -> Runtime<AnyModuleStore> {
    Runtime(store: AnyModuleStore(store), configuration: RuntimeConfiguration(instancesPerModule: 1, snapshotEvery: every))
}

private func deposit(_ runtime: Runtime<AnyModuleStore>, _ id: String, _ amount: Int64, commandID: UUID? = nil) async throws
    -> CommandOutcome
{
    try await runtime.execute(
        CommandRequest(
            aggregate: "BankAccount", id: id, command: "deposit_funds", payload: ["amount": .integer(amount)], commandID: commandID)
    ).outcome
}

private func open(_ runtime: Runtime<AnyModuleStore>, _ id: String, commandID: UUID? = nil) async throws -> CommandOutcome {
    try await runtime.execute(
        CommandRequest(aggregate: "BankAccount", id: id, command: "open_account", payload: ["initial_balance": 0], commandID: commandID)
    ).outcome
}

private func withdraw(_ runtime: Runtime<AnyModuleStore>, _ id: String, _ amount: Int64) async throws -> CommandOutcome {
    try await runtime.execute(
        CommandRequest(aggregate: "BankAccount", id: id, command: "withdraw_funds", payload: ["amount": .integer(amount)])
    ).outcome
}

/// The snapshots of a bank account, once every snapshot `runtime` scheduled is written.
private func snapshots(in store: AnyMessageStore, of id: String, after runtime: Runtime<AnyModuleStore>) async throws -> [Message] {
    await runtime.snapshotsSettled()
    return try await store.readWholeStream(StreamName(category: "bankAccount", id: id, types: ["snapshot"]))
}

@Suite("Snapshots: written every N events off the command path, used only by the digest that wrote them")
struct SnapshotTests {
    @Test(
        "snapshot and restore give back the same entity, in Swift, Rust and C",
        arguments: [
            ("bank_account", #"{"open":true,"balance":12}"#), ("bank_account_rust", #"{"open":true,"balance":12}"#),
            ("c_counter", #"{"count":12}"#),
        ])
    func guestRoundTrip(example: String, state: String) async throws {
        let built = try await ExampleModules.shared.build(example)
        let schema = try Schema.parse(built.schema)
        let module = try AggregateModule(name: schema.aggregate.name, version: schema.version, schema: schema, bytes: built.wasm)
        #expect(module.supportsSnapshots)
        let guest = try GuestInstance(module: module)
        let entity = try guest.newEntity(id: "1")
        let given =
            example == "c_counter"
            ? [("Incremented", #"{"amount":7,"count":7}"#), ("Incremented", #"{"amount":5,"count":12}"#)]
            : [("OpenedAccount", #"{"initial_balance":7}"#), ("DepositedFunds", #"{"amount":5}"#)]
        let events = given.enumerated().map { index, event in
            GuestRecordedEvent(
                type: event.0, payload: event.1,
                context: GuestContext(
                    id: UUID().lowercasedText, streamName: "x-1", position: Int64(index), globalPosition: Int64(index), metadata: "{}",
                    time: 0))
        }
        #expect(try guest.apply(entity, events: events) == nil)
        let bytes = try #require(try guest.snapshot(entity))
        #expect((try? JSONValue(parsing: bytes)) != nil, "the examples snapshot as JSON")
        let restored = try guest.restore(id: "1", state: bytes).get()
        #expect(restored != entity)
        #expect(try JSONValue(parsing: try #require(try guest.state(restored))) == JSONValue(parsing: state))
        // Bytes the aggregate cannot read are an error, not a trap: the instance goes on.
        guard case .failure(.deserializeEvent(let message)) = try guest.restore(id: "2", state: Array(#"{"open":"yes","count":"no"}"#.utf8))
        else {
            Issue.record("restoring unreadable bytes should fail with deserialize-event")
            return
        }
        #expect(message.contains("snapshot"), "\(message)")
        #expect(try JSONValue(parsing: try #require(try guest.state(entity))) == JSONValue(parsing: state))
    }

    @Test("a module without the snapshot functions has no snapshots, and runs as before")
    func withoutSnapshots() async throws {
        let misbehaving = try await WasmHostTests.misbehaving()
        #expect(!misbehaving.supportsSnapshots)
        let other = try GuestInstance(module: misbehaving)
        #expect(try other.snapshot(try other.newEntity(id: "1")) == nil)
        try await withStore(.sqlite) { store in
            let runtime = runtime(store, every: 2)
            let (schema, wasm) = try await Fixtures.shared.misbehavingModule()
            try await runtime.publish(schema: schema, wasm: wasm)
            for n in 1...5 {
                _ = try await runtime.execute(
                    CommandRequest(aggregate: "Misbehaving", id: "m", command: "ok", payload: ["n": .integer(Int64(n))]))
            }
            await runtime.snapshotsSettled()
            #expect(try await store.readWholeStream(StreamName(category: "misbehaving", id: "m", types: ["snapshot"])).isEmpty)
            #expect(try await store.readWholeStream("misbehaving-m").count == 5)
        }
    }

    @Test("a module exporting only some of the snapshot functions is refused, naming the missing ones")
    func halfTheExports() async throws {
        let source = ExampleModules.repositoryRoot.appendingPathComponent("Tests/Fixtures/misbehaving")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("thalo-half-snapshot-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(at: source, to: folder)
        try #"""
        __attribute__((export_name("thalo:aggregate/aggregate@0.1.0#snapshot"))) int half_snapshot(int entity) { return entity; }
        """#.write(to: folder.appendingPathComponent("half.c"), atomically: true, encoding: .utf8)
        let result = try await GuestBuilder(configuration: .init(outputDirectory: folder.appendingPathComponent(".build"))).build(
            directory: folder)
        let schemaText = try String(contentsOf: folder.appendingPathComponent("misbehaving.esdl"), encoding: .utf8)
        let schema = try Schema.parse(schemaText)
        let error = #expect(throws: RuntimeError.self) {
            try AggregateModule(
                name: "Misbehaving", version: schema.version, schema: schema, bytes: try [UInt8](Data(contentsOf: result.wasmURL)))
        }
        #expect(error?.code == .invalidModule)
        #expect(
            error?.message.contains("exports thalo:aggregate/aggregate@0.1.0#snapshot but not thalo:aggregate/aggregate@0.1.0#restore")
                == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("cabi_post_thalo:aggregate/aggregate@0.1.0#restore") == true)
    }

    @Test(
        "every N events a snapshot is written next to the stream, as Message DB data a person can read",
        arguments: [Backend.sqlite, .postgres])
    func written(backend: Backend) async throws {
        try await withStore(backend) { store in
            let runtime = runtime(store, every: 10)
            let built = try await ExampleModules.shared.build("bank_account")
            try await runtime.publish(schema: built.schema, wasm: built.wasm)
            _ = try await open(runtime, "1")
            for _ in 1...24 { _ = try await deposit(runtime, "1", 2) }  // positions 0…24
            let written = try await snapshots(in: store, of: "1", after: runtime)
            #expect(written.count == 2)
            let stream = try await store.readWholeStream("bankAccount-1")
            let digest = try await runtime.registry.module(named: "BankAccount")?.digest
            var positions: [Int64] = []
            for snapshot in written {
                #expect(snapshot.type == "Recorded")
                let data = try JSONValue(parsing: snapshot.data)
                // Taken after the command that crossed the mark was answered (the next one
                // may have run first), with the state at the position it names.
                let position = try #require(data["position"]?.integerValue)
                positions.append(position)
                #expect(data["eventId"]?.stringValue == stream[Int(position)].id.lowercasedText)
                #expect(data["state"] == ["open": true, "balance": .integer(position * 2)])
                let metadata = try JSONValue(parsing: snapshot.metadata ?? "{}")
                #expect(metadata["module"] == "BankAccount")
                #expect(metadata["moduleVersion"] == "0.1.0")
                #expect(metadata["moduleDigest"]?.stringValue == digest)
            }
            #expect((9...12).contains(positions[0]), "\(positions)")
            #expect(positions[1] - positions[0] >= 10, "\(positions)")
            // Snapshots are in their own category: the entity's category holds only its events.
            let category = try await store.readCategory(
                "bankAccount", from: 0, batchSize: 1000, correlation: nil, consumerGroup: nil, condition: nil)
            #expect(category.count == 25 && category.allSatisfy { $0.streamName.rawValue == "bankAccount-1" })
        }
    }

    @Test(
        "a cold entity loads from the latest snapshot its digest wrote; another digest, another stream or 0 rebuilds from events",
        arguments: [Backend.sqlite, .postgres])
    func used(backend: Backend) async throws {
        try await withStore(backend) { store in
            let first = runtime(store, every: 10)
            let built = try await ExampleModules.shared.build("bank_account")
            try await first.publish(schema: built.schema, wasm: built.wasm)
            for id in ["a", "b", "c", "d", "e"] {
                _ = try await open(first, id)
                for _ in 1...10 { _ = try await deposit(first, id, 10) }  // balance 100 at position 10
            }
            for id in ["a", "b", "c", "d", "e"] { #expect(try await snapshots(in: store, of: id, after: first).count == 1) }
            // Forge snapshots that claim a balance of 1,000,000: a runtime that uses a snapshot
            // lets a withdrawal of 500,000 through, one that replays the events refuses it.
            let digest = try #require(try await first.registry.module(named: "BankAccount")?.digest)
            func forge(_ id: String, digest: String, eventID: UUID? = nil, state: String = #"{"open":true,"balance":1000000}"#) async throws
            {
                let stream = try await store.readWholeStream(StreamName(category: "bankAccount", id: id))
                let data: JSONValue = [
                    "position": .integer(stream.last!.position), "eventId": .string((eventID ?? stream.last!.id).lowercasedText),
                    "state": try JSONValue(parsing: state),
                ]
                let metadata: JSONValue = ["module": "BankAccount", "moduleVersion": "0.1.0", "moduleDigest": .string(digest)]
                _ = try await store.write(
                    NewMessage(type: "Recorded", data: data.jsonText, metadata: metadata.jsonText),
                    to: StreamName(category: "bankAccount", id: id, types: ["snapshot"]))
            }
            try await forge("a", digest: digest)
            try await forge("b", digest: String(repeating: "0", count: 64))
            try await forge("c", digest: digest, eventID: UUID())
            try await forge("d", digest: digest, state: #"{"open":"not a bool"}"#)
            try await forge("e", digest: digest)

            let cold = runtime(store, every: 10)
            #expect(try await withdraw(cold, "a", 500_000).events.count == 1)  // restored from the snapshot
            for id in ["b", "c", "d"] {
                let refused = await #expect(throws: RuntimeError.self) { try await withdraw(cold, id, 500_000) }
                #expect(refused?.code == .rejected && refused?.message == "insufficient funds", "\(id): \(refused?.message ?? "")")
                #expect(try await withdraw(cold, id, 100).events.count == 1)  // the events' balance
            }
            // The version that could not use b's snapshot writes its own (b's stream is already
            // more than 10 events long, so at once).
            let own = try await snapshots(in: store, of: "b", after: cold)  // the first, the forged one, its own
            let ownMetadata = try JSONValue(parsing: try #require(own.last?.metadata))
            #expect(own.count == 3 && ownMetadata["moduleDigest"]?.stringValue == digest)

            let off = runtime(store, every: 0)
            let refused = await #expect(throws: RuntimeError.self) { try await withdraw(off, "e", 500_000) }
            #expect(refused?.message == "insufficient funds")
            // 0 writes none either.
            _ = try await open(off, "f")
            for _ in 1...12 { _ = try await deposit(off, "f", 1) }
            await off.snapshotsSettled()
            #expect(try await store.readWholeStream(StreamName(category: "bankAccount", id: "f", types: ["snapshot"])).isEmpty)
            // The events after a snapshot are applied on top of it.
            _ = try await deposit(first, "a", 1)
            let colder = runtime(store, every: 10)
            #expect(try await withdraw(colder, "a", 500_001).events.count == 1)
        }
    }

    @Test(
        "a repeated command is recognised after a restore: in the window before the snapshot, and beyond it when it writes again",
        arguments: [Backend.sqlite, .postgres])
    func idempotency(backend: Backend) async throws {
        try await withStore(backend) { store in
            let first = runtime(store, every: 150)
            let built = try await ExampleModules.shared.build("bank_account")
            try await first.publish(schema: built.schema, wasm: built.wasm)
            let old = UUID()
            let recent = UUID()
            _ = try await open(first, "1")
            _ = try await deposit(first, "1", 7, commandID: old)  // position 1
            for _ in 2...139 { _ = try await deposit(first, "1", 1) }
            _ = try await deposit(first, "1", 9, commandID: recent)  // position 140
            for _ in 141...150 { _ = try await deposit(first, "1", 1) }
            #expect(try await snapshots(in: store, of: "1", after: first).count == 1)

            let cold = runtime(store, every: 150)
            guard case .duplicate(let again) = try await deposit(cold, "1", 9, commandID: recent) else {
                Issue.record("the command within the window should be a duplicate")
                return
            }
            #expect(again.map(\.position) == [140])
            // Position 1 lies before the window: the deposit runs again, its event ids collide
            // with the stored ones, and the stream shows the command was handled.
            guard case .duplicate(let older) = try await deposit(cold, "1", 7, commandID: old) else {
                Issue.record("the old command should be a duplicate")
                return
            }
            #expect(older.map(\.position) == [1])
            #expect(try await store.readWholeStream("bankAccount-1").count == 151)
        }
    }
}
