import AggregateContract
import ESDL
import Foundation
import JSON
import MessageStore
import TestSupport
import Testing

@testable import ThaloRuntime

/// Modules written to hurt the host, in WebAssembly text compiled by `wat2wasm` (wabt):
/// each follows the contract's exports but misbehaves in one way that C or Swift guests
/// cannot easily express (a start function, an `_initialize` that never returns, a huge
/// declared memory, results that point outside memory or claim enormous lists).
enum HostileModule: String, CaseIterable, Sendable {
    case startLoop, initializeLoop, hugeMemory, resultOutside, listOutside, enormousList, wrappingList, stringOutside, enormousString

    static let schema = """
        version = "0.1.0"
        aggregate Hostile {
          hit() -> Done
        }
        event Done {
          n: Int
        }
        """

    /// What `handle` returns: the result area at 0 (tag, list pointer, count), one event at 64
    /// (`Done {"n":1}`, whose text is at 128).
    static let doneEvent = """
        (i32.store (i32.const 0) (i32.const 0))
        (i32.store (i32.const 4) (i32.const 64))
        (i32.store (i32.const 8) (i32.const 1))
        (i32.store (i32.const 64) (i32.const 128))
        (i32.store (i32.const 68) (i32.const 4))
        (i32.store (i32.const 72) (i32.const 132))
        (i32.store (i32.const 76) (i32.const 7))
        (i32.const 0)
        """

    /// The module's text: a valid contract, with this variant's misbehaviour.
    var text: String {
        var memory = "(memory (export \"memory\") 1 64)"
        var extra = ""
        var handle = Self.doneEvent
        switch self {
        case .startLoop:
            extra = "(func $spin (loop $again (br $again))) (start $spin)"
        case .initializeLoop:
            extra = "(func (export \"_initialize\") (loop $again (br $again)))"
        case .hugeMemory:
            memory = "(memory (export \"memory\") 65536)"
        case .resultOutside:
            handle = "(i32.const -16)"
        case .listOutside:
            handle = handle.replacingOccurrences(
                of: "(i32.store (i32.const 4) (i32.const 64))", with: "(i32.store (i32.const 4) (i32.const -64))")
        case .enormousList:
            handle = handle.replacingOccurrences(
                of: "(i32.store (i32.const 8) (i32.const 1))", with: "(i32.store (i32.const 8) (i32.const 0x7fffffff))")
        case .wrappingList:
            // pointer + count × 16 wraps around 2^32 to a small number.
            handle = handle.replacingOccurrences(
                of: "(i32.store (i32.const 8) (i32.const 1))", with: "(i32.store (i32.const 8) (i32.const 0x10000000))")
        case .stringOutside:
            handle = handle.replacingOccurrences(
                of: "(i32.store (i32.const 72) (i32.const 132))", with: "(i32.store (i32.const 72) (i32.const -8))")
        case .enormousString:
            handle = handle.replacingOccurrences(
                of: "(i32.store (i32.const 76) (i32.const 7))", with: "(i32.store (i32.const 76) (i32.const 0x7ffffff0))")
        }
        return Self.moduleText(memory: memory, handle: handle, extra: extra)
    }

    /// The text of a module with the contract's exports: `handle` returns one `Done` event
    /// unless `handle` says otherwise, and `apply` accepts every event unless `apply` says
    /// otherwise (both bodies leave the result area's address on the stack).
    static func moduleText(
        memory: String = "(memory (export \"memory\") 1 64)", abiVersion: UInt32 = 1, handle: String = doneEvent,
        apply: String = "(i32.store (i32.const 0) (i32.const 0)) (i32.const 0)", extra: String = ""
    ) -> String {
        let interface = "thalo:aggregate/aggregate@0.1.0"
        return """
            (module
              \(memory)
              (data (i32.const 128) "Done{\\"n\\":1}")
              (global $top (mut i32) (i32.const 4096))
              (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
                (local $start i32)
                (local.set $start (i32.and (i32.add (global.get $top) (i32.const 7)) (i32.const -8)))
                (global.set $top (i32.add (local.get $start) (local.get 3)))
                (if (i32.gt_u (global.get $top) (i32.mul (memory.size) (i32.const 65536)))
                  (then (drop (memory.grow (i32.add (i32.div_u (global.get $top) (i32.const 65536)) (i32.const 1))))))
                (local.get $start))
              (func (export "\(interface)#abi-version") (result i32) (i32.const \(abiVersion)))
              (func (export "\(interface)#new-entity") (param i32 i32) (result i32) (i32.const 1))
              (func (export "\(interface)#drop-entity") (param i32))
              (func (export "\(interface)#apply") (param i32 i32 i32) (result i32)
                \(apply))
              (func (export "\(interface)#handle")
                (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i64 i64 i32 i32 i64) (result i32)
                \(handle))
              (func (export "\(interface)#state") (param i32) (result i32)
                (i32.store (i32.const 0) (i32.const 0)) (i32.const 0))
              (func (export "cabi_post_\(interface)#apply") (param i32))
              (func (export "cabi_post_\(interface)#handle") (param i32))
              (func (export "cabi_post_\(interface)#state") (param i32))
              \(extra)
            )
            """
    }

    /// Whether the misbehaviour shows when the module is loaded (rather than on `handle`).
    var failsToLoad: Bool { self == .startLoop || self == .initializeLoop || self == .hugeMemory }

    /// Compiles the module with wat2wasm.
    func wasm() async throws -> [UInt8] { try await Self.compile(text, name: rawValue) }

    /// Compiles module text with wat2wasm.
    static func compile(_ text: String, name: String) async throws -> [UInt8] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("thalo-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = folder.appendingPathComponent("\(name).wat")
        let output = folder.appendingPathComponent("\(name).wasm")
        try text.write(to: source, atomically: true, encoding: .utf8)
        guard let wat2wasm = await ProcessRunner.which("wat2wasm") else {
            throw HostileModuleError("wat2wasm (Debian package wabt) is missing; ./scripts/bootstrap installs it")
        }
        let result = try await ProcessRunner.output(wat2wasm, [source.path, "-o", output.path])
        guard result.status == 0 else { throw HostileModuleError("wat2wasm failed for \(name):\n\(result.combined)") }
        return try [UInt8](Data(contentsOf: output))
    }
}

struct HostileModuleError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

@Suite("Wasm host: hostile modules are contained")
struct HostileModuleTests {
    static let limits = ModuleLimits(fuelPerCall: 5_000_000, maximumMemoryBytes: 8 << 20)

    @Test("each hostile module fails within its budget with an error naming what it did", arguments: HostileModule.allCases)
    func contained(_ hostile: HostileModule) async throws {
        let wasm = try await hostile.wasm()
        let schema = try Schema.parse(HostileModule.schema)
        // Bounded by the thread's CPU time: the work below does not suspend, and wall time on
        // a machine busy with other tests would measure the machine.
        let start = threadCPUSeconds()
        if hostile.failsToLoad {
            let error = #expect(throws: RuntimeError.self) {
                _ = try AggregateModule(name: "Hostile", version: schema.version, schema: schema, bytes: wasm, limits: Self.limits)
            }
            #expect(error?.code == .invalidModule, "\(String(describing: error))")
        } else {
            let module = try AggregateModule(name: "Hostile", version: schema.version, schema: schema, bytes: wasm, limits: Self.limits)
            let guest = try GuestInstance(module: module)
            let entity = try guest.newEntity(id: "1")
            let context = GuestContext(
                id: UUID().uuidString.lowercased(), streamName: "hostile:command-1", position: -1, globalPosition: -1, metadata: "{}",
                time: 0)
            let failure = #expect(throws: GuestFailure.self) {
                _ = try guest.handle(entity, command: "hit", payload: "{}", context: context)
            }
            #expect(failure?.export.contains("handle") == true, "\(String(describing: failure))")
            #expect(guest.isPoisoned)
        }
        #expect(threadCPUSeconds() - start < 60)
    }

    @Test(
        "a module of contract 1.2 that cannot apply its own event: the event is written, the command fails, the entity is rebuilt",
        arguments: ["refuses", "traps"])
    func applyFailsWhileWriting(_ how: String) async throws {
        // `apply` answers ignore (tag 1, ignore without a reason) or traps.
        let apply =
            how == "traps"
            ? "(unreachable)"
            : "(i32.store (i32.const 0) (i32.const 1)) (i32.store (i32.const 4) (i32.const 1)) (i32.store (i32.const 8) (i32.const 0)) (i32.const 0)"
        let wasm = try await HostileModule.compile(
            HostileModule.moduleText(abiVersion: ModuleContract.unwrittenEventsABIVersion, apply: apply), name: "apply-\(how)")
        try await withStore(.sqlite) { (store: AnyMessageStore) async throws -> Void in
            let runtime = Runtime(
                store: AnyModuleStore(store), configuration: RuntimeConfiguration(instancesPerModule: 1, limits: Self.limits))
            try await runtime.publish(schema: HostileModule.schema, wasm: wasm)
            for attempt in 0..<2 {
                let failed = await #expect(throws: RuntimeError.self) {
                    _ = try await runtime.execute(CommandRequest(aggregate: "Hostile", id: "1", command: "hit", payload: [:]))
                }
                #expect(failed?.code == .moduleFailure, "\(String(describing: failed))")
                // The append went through while the module applied: each command's event is
                // written once. The next command finds the entity dropped and rebuilds it,
                // which fails on the first event (it is never decided on a state that did
                // not apply it).
                let stream = try await store.readStream("hostile-1")
                #expect(stream.count == 1, "after attempt \(attempt): \(stream.map(\.type))")
            }
        }
    }

    @Test("a hostile module's commands fail through the runtime while another aggregate keeps working")
    func othersUnaffected() async throws {
        try await withStore(.memory) { (store: AnyMessageStore) async throws -> Void in
            let runtime = Runtime(
                store: AnyModuleStore(store), configuration: RuntimeConfiguration(instancesPerModule: 1, limits: Self.limits))
            let bank = try await ExampleModules.shared.build("bank_account")
            try await runtime.publish(schema: bank.schema, wasm: bank.wasm)
            for hostile in HostileModule.allCases where hostile.failsToLoad {
                let wasm = try await hostile.wasm()
                let refused = await #expect(throws: RuntimeError.self) {
                    try await runtime.publish(schema: HostileModule.schema, wasm: wasm)
                }
                #expect(refused?.code == .invalidModule, "\(hostile): \(String(describing: refused))")
            }
            // Every load-time misbehaviour was refused; the runtime still serves the bank account.
            let opened = try await runtime.execute(
                CommandRequest(aggregate: "BankAccount", id: "h1", command: "open_account", payload: ["initial_balance": 5]))
            #expect(opened.outcome.events.map(\.type) == ["OpenedAccount"])
            // A module that misbehaves on handle is published (its schema check sees handlers)
            // and each command fails as a module failure; the other aggregate is unaffected.
            let resultOutside = try await HostileModule.resultOutside.wasm()
            try await runtime.publish(schema: HostileModule.schema, wasm: resultOutside)
            for attempt in 0..<3 {
                let failed = await #expect(throws: RuntimeError.self) {
                    _ = try await runtime.execute(CommandRequest(aggregate: "Hostile", id: "\(attempt)", command: "hit", payload: [:]))
                }
                #expect(failed?.code == .moduleFailure, "\(String(describing: failed))")
                let deposited = try await runtime.execute(
                    CommandRequest(aggregate: "BankAccount", id: "h1", command: "deposit_funds", payload: ["amount": 1]))
                #expect(deposited.outcome.events.map(\.type) == ["DepositedFunds"])
            }
        }
    }
}
