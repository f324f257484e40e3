import ESDL
import Foundation
import GuestBuilder
import JSON
import MessageStore
import TestSupport
import Testing

@testable import ThaloRuntime

/// bank_account 0.2.0 whose state view doubles the balance, for `compare`.
actor DoubledBankAccount {
    static let shared = DoubledBankAccount()
    private var built: Task<(schema: String, wasm: [UInt8]), any Error>?

    func build() async throws -> (schema: String, wasm: [UInt8]) {
        if let built { return try await built.value }
        let task = Task<(schema: String, wasm: [UInt8]), any Error> {
            let source = ExampleModules.folder("bank_account")
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("thalo-doubled-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let schema = try String(contentsOf: source.appendingPathComponent("bank_account.esdl"), encoding: .utf8)
                .replacingOccurrences(of: "version = \"0.1.0\"", with: "version = \"0.2.0\"")
            try schema.write(to: folder.appendingPathComponent("bank_account.esdl"), atomically: true, encoding: .utf8)
            let code = try String(contentsOf: source.appendingPathComponent("BankAccount.swift"), encoding: .utf8)
                .replacingOccurrences(of: "\"balance\": .int(balance)", with: "\"balance\": .int(balance * 2)")
            try code.write(to: folder.appendingPathComponent("BankAccount.swift"), atomically: true, encoding: .utf8)
            let result = try await GuestBuilder().build(directory: folder)
            return (schema, try [UInt8](Data(contentsOf: result.wasmURL)))
        }
        built = task
        return try await task.value
    }
}

/// The misbehaving fixture's schema with another version and body.
private func misbehavingSchema(version: String, events: String) async throws -> String {
    let (schema, _) = try await Fixtures.shared.misbehavingModule()
    let head = schema[..<schema.range(of: "event Done")!.lowerBound]
    return head.replacingOccurrences(of: "version = \"0.1.0\"", with: "version = \"\(version)\"") + events
}

@Suite("Safe deploys: deploy check, rollback, provenance")
struct DeployTests {
    @Test(
        "a version whose schema cannot read stored events is refused, listing what breaks; additive changes pass",
        arguments: [Backend.sqlite, .postgres])
    func schemaGate(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            let runtime = Runtime(store: AnyModuleStore(store))
            let (schema, wasm) = try await Fixtures.shared.misbehavingModule()
            try await runtime.publish(schema: schema, wasm: wasm)
            _ = try await runtime.execute(CommandRequest(aggregate: "Misbehaving", id: "s", command: "pair_ok", payload: [:]))
            let breaking = try await misbehavingSchema(
                version: "0.2.0", events: "event Done { n: String }\nevent Other { n: Int, m: Int }\n")
            let error = await #expect(throws: RuntimeError.self) { try await runtime.publish(schema: breaking, wasm: wasm) }
            #expect(error?.code == .incompatibleSchema)
            #expect(
                error?.payloadErrors.map(\.message) == [
                    "Done.n changed from Int to String; stored values may not fit",
                    "Other.m (Int) is new and required; stored events do not have it (make it optional)",
                ])
            #expect(try await runtime.registry.versions(of: "Misbehaving").map(\.version.description) == ["0.1.0"])
            #expect(runtime.activeVersions()["Misbehaving"]?.description == "0.1.0")

            let additive = try await misbehavingSchema(
                version: "0.2.0", events: "event Done { n: Long, note: String? }\nevent Other { n: Int }\n")
            let (info, report) = try await runtime.publish(schema: additive, wasm: wasm, check: DeployCheck())
            #expect(info.version.description == "0.2.0")
            #expect(report.passed)
            #expect(report.storedEventTypes == ["Done", "Other"])
            #expect(report.replayedStreams == 1 && report.replayedEvents == 2)
            #expect(runtime.activeVersions()["Misbehaving"]?.description == "0.2.0")
        }
    }

    @Test(
        "a version that cannot apply a stored event is refused, naming the stream and position; force publishes it",
        arguments: [Backend.sqlite, .postgres])
    func replayGate(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            let runtime = Runtime(store: AnyModuleStore(store))
            let (schema, wasm) = try await Fixtures.shared.misbehavingModule()
            try await runtime.publish(schema: schema, wasm: wasm)
            for id in ["a", "b", "c"] {
                _ = try await runtime.execute(CommandRequest(aggregate: "Misbehaving", id: id, command: "ok", payload: ["n": 1]))
            }
            // A stored event this module cannot apply (it refuses {"n":13}).
            _ = try await store.append([NewMessage(type: "Done", data: #"{"n":13}"#)], to: "misbehaving-b", expectedVersion: .version(0))
            let next = schema.replacingOccurrences(of: "version = \"0.1.0\"", with: "version = \"0.2.0\"")
            let error = await #expect(throws: RuntimeError.self) { try await runtime.publish(schema: next, wasm: wasm) }
            #expect(error?.code == .replayFailed)
            #expect(error?.payloadErrors.map(\.path) == ["misbehaving-b at position 1"])
            #expect(error?.message.contains("n 13 is not allowed") == true, "\(error?.message ?? "")")
            #expect(error?.message.contains("the running version is unchanged") == true)
            // The running version keeps serving.
            _ = try await runtime.execute(CommandRequest(aggregate: "Misbehaving", id: "a", command: "ok", payload: ["n": 1]))
            #expect(runtime.activeVersions()["Misbehaving"]?.description == "0.1.0")
            // A sample of one stream that is not the bad one passes; force publishes despite failures.
            let sampled = try await runtime.deployReport(
                for: try AggregateModule(name: "Misbehaving", version: SemanticVersion("0.2.0")!, schema: Schema.parse(next), bytes: wasm),
                check: DeployCheck(sample: 1))
            #expect(sampled.replayedStreams == 1 && sampled.streams == 3 && sampled.passed)
            let (_, report) = try await runtime.publish(schema: next, wasm: wasm, check: DeployCheck(force: true))
            #expect(report.replayFailures.map(\.stream) == ["misbehaving-b"])
            #expect(runtime.activeVersions()["Misbehaving"]?.description == "0.2.0")
        }
    }

    @Test("compare lists the streams whose state view differs between the running and the new version")
    func compare() async throws {
        try await withRuntime(.sqlite) { runtime in
            _ = try await runtime.execute(bank("1", "open_account", ["initial_balance": 10]))
            _ = try await runtime.execute(bank("2", "open_account", ["initial_balance": 0]))
            let doubled = try await DoubledBankAccount.shared.build()
            let (_, report) = try await runtime.publish(schema: doubled.schema, wasm: doubled.wasm, check: DeployCheck(compare: true))
            #expect(report.passed)
            #expect(report.differences.map(\.stream) == ["bankAccount-1"])
            #expect(report.differences.first?.message.contains("\"balance\":20") == true, "\(report.differences)")
        }
    }

    @Test(
        "activate rolls back to an earlier version live, for every node, and a new publish rolls forward",
        arguments: [Backend.sqlite, .postgres])
    func rollback(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            let runtime = Runtime(store: AnyModuleStore(store))
            let first = try await ExampleModules.shared.build("bank_account")
            try await runtime.publish(schema: first.schema, wasm: first.wasm)
            let upgraded = try await UpgradedBankAccount.shared.build()
            try await runtime.publish(schema: upgraded.schema, wasm: upgraded.wasm)
            _ = try await runtime.execute(bank("r", "open_account", ["initial_balance": 5]))
            let other = Runtime(store: AnyModuleStore(store))
            func overdraft(_ runtime: Runtime<AnyModuleStore>) async -> String? {
                do {
                    _ = try await runtime.execute(bank("r", "withdraw_funds", ["amount": 50]))
                    return nil
                } catch { return error.message }
            }
            #expect(await overdraft(other) == "insufficient funds (rule of 0.2.0)")

            let (info, _) = try await runtime.activate(aggregate: "BankAccount", version: SemanticVersion("0.1.0")!)
            #expect(info.version.description == "0.1.0")
            #expect(await overdraft(runtime) == "insufficient funds")
            // Another node follows on refresh; a node started now runs 0.1.0 too.
            try await other.refreshModules()
            #expect(await overdraft(other) == "insufficient funds")
            let restarted = Runtime(store: AnyModuleStore(store))
            #expect(await overdraft(restarted) == "insufficient funds")

            let unknown = await #expect(throws: RuntimeError.self) {
                try await runtime.activate(aggregate: "BankAccount", version: SemanticVersion("9.9.9")!)
            }
            #expect(unknown?.code == .unknownAggregate)
            #expect(unknown?.message.contains("published versions: 0.1.0, 0.2.0") == true, "\(unknown?.message ?? "")")
            try await runtime.activate(aggregate: "BankAccount", version: SemanticVersion("0.2.0")!)
            #expect(await overdraft(runtime) == "insufficient funds (rule of 0.2.0)")
        }
    }

    @Test("every event records the digest of the module that decided it")
    func provenance() async throws {
        try await withRuntime(.sqlite) { runtime in
            let opened = try await runtime.execute(bank("p", "open_account", ["initial_balance": 1]))
            let upgraded = try await UpgradedBankAccount.shared.build()
            try await runtime.publish(schema: upgraded.schema, wasm: upgraded.wasm)
            let deposited = try await runtime.execute(bank("p", "deposit_funds", ["amount": 1]))
            let digests = try [opened, deposited].map { result in
                try JSONValue(parsing: result.outcome.events[0].metadata ?? "{}")["moduleDigest"]?.stringValue ?? ""
            }
            let first = try await ExampleModules.shared.build("bank_account")
            let expected = try [first.wasm, upgraded.wasm].map { wasm in
                try AggregateModule(
                    name: "BankAccount", version: SemanticVersion("0.1.0")!, schema: Schema.parse(first.schema), bytes: wasm
                ).digest
            }
            #expect(digests == expected)
            #expect(digests[0] != digests[1])
            #expect(digests.allSatisfy { $0.count == 64 && $0.allSatisfy(\.isHexDigit) })
        }
    }
}
