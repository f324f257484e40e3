import AggregateContract
import Crypto
import ESDL
import JSON
import MessageStore
import WasmKit

/// A compiled aggregate module that follows the contract: parsed once, instantiated
/// many times (several instances per module, many entities per instance).
public final class AggregateModule: Sendable {
    /// The aggregate's name, e.g. `BankAccount`.
    public let name: String
    /// The module's version.
    public let version: SemanticVersion
    /// The ESDL schema it implements.
    public let schema: Schema
    /// The wasm binary.
    public let bytes: [UInt8]
    /// The bounds of every call.
    public let limits: ModuleLimits
    /// The SHA-256 of the wasm binary in hex: which code decided an event (its metadata's
    /// `moduleDigest`).
    public let digest: String
    /// Whether the module exports the optional snapshot functions (contract 1.1).
    public let supportsSnapshots: Bool
    let module: WasmKit.Module
    /// The members every event of this module has in its metadata after the command's own
    /// (their keys sort after `commandId`), as JSON text from the first comma to the closing
    /// brace: written once here instead of once per event.
    let eventMetadataTail: String
    /// The version as text (`version.description`, written once).
    public let versionText: String
    /// `{category}:command-`: the command stream of entity `id` is this and the id.
    let commandStreamPrefix: String

    /// Parses and checks a module: it must import nothing, export the contract's functions
    /// with their exact signatures and a memory, report ABI version 1, and fit the memory cap.
    ///
    /// - Throws: ``RuntimeError`` (`invalidModule`) saying what is missing or wrong.
    public init(name: String, version: SemanticVersion, schema: Schema, bytes: [UInt8], limits: ModuleLimits = ModuleLimits())
        throws(RuntimeError)
    {
        self.name = name
        self.version = version
        self.schema = schema
        self.bytes = bytes
        self.limits = limits
        self.digest = SHA256.hash(data: bytes).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
        let moduleMembers = JSONValue.objectText([
            ("moduleDigest", .string(digest)), ("moduleName", .string(name)), ("moduleVersion", .string(version.description)),
            ("schemaVersion", .string(version.description)),
        ])
        self.eventMetadataTail = "," + moduleMembers.dropFirst()
        self.versionText = version.description
        self.commandStreamPrefix = StreamName(category: schema.aggregate.category, id: "", types: ["command"]).rawValue
        let label = "module \(name) \(version)"
        guard bytes.starts(with: [0x00, 0x61, 0x73, 0x6D]) else {
            throw RuntimeError(
                .invalidModule, "\(label): not a WebAssembly module (bad magic header: a .wasm file starts with \\0asm)",
                aggregate: name, moduleVersion: version.description)
        }
        guard bytes.count >= 8, bytes[4..<8].elementsEqual([0x01, 0x00, 0x00, 0x00]) else {
            throw RuntimeError(
                .invalidModule,
                "\(label): not a WebAssembly 1.0 core module (version field \(bytes.dropFirst(4).prefix(4).map { String($0) }.joined(separator: " ")); "
                    + "components are not supported, publish the core module)",
                aggregate: name, moduleVersion: version.description)
        }
        do {
            self.module = try parseWasm(bytes: bytes)
        } catch {
            throw RuntimeError(
                .invalidModule, "\(label) is not a valid WebAssembly module: \(error)", aggregate: name,
                moduleVersion: version.description)
        }
        if let first = module.imports.first {
            let all = module.imports.map { "\($0.module).\($0.name)" }.joined(separator: ", ")
            throw RuntimeError(
                .invalidModule,
                "\(label) imports \(all); aggregate modules must import nothing (no WASI, clock or I/O): first is \(first.module).\(first.name)",
                aggregate: name, moduleVersion: version.description)
        }
        let exported = Set(module.exports.map(\.name))
        var missing = ModuleContract.requiredFunctions.map(\.name).filter { !exported.contains($0) }
        if !exported.contains(ModuleContract.memoryExport) { missing.append(ModuleContract.memoryExport) }
        if !missing.isEmpty {
            throw RuntimeError(
                .invalidModule,
                "\(label) does not export the aggregate contract (docs/module-contract.md): missing \(missing.joined(separator: ", "))",
                aggregate: name, moduleVersion: version.description)
        }
        let snapshotExports = ModuleContract.snapshotExports
        let presentSnapshotExports = snapshotExports.filter { exported.contains($0) }
        if !presentSnapshotExports.isEmpty && presentSnapshotExports.count < snapshotExports.count {
            let absent = snapshotExports.filter { !exported.contains($0) }
            throw RuntimeError(
                .invalidModule,
                "\(label) exports \(presentSnapshotExports.joined(separator: ", ")) but not \(absent.joined(separator: ", ")); "
                    + "the snapshot functions come all together or not at all (docs/module-contract.md)",
                aggregate: name, moduleVersion: version.description)
        }
        supportsSnapshots = !presentSnapshotExports.isEmpty
        // Instantiating checks signatures, the memory, the ABI version and that the start
        // and constructors finish within the budget.
        let probe = try GuestInstance(module: self)
        _ = probe
    }

    /// Checks that the module implements its schema: every command has a handler and every
    /// event can be applied. Each command is sent with an empty payload to a fresh entity,
    /// and each event is applied to one: a module that answers `unknown-command` or
    /// `unknown-event` for a name the schema declares is refused, naming them.
    ///
    /// - Throws: ``RuntimeError`` (`invalidModule`) listing what does not match.
    func checkImplementsSchema() throws(RuntimeError) {
        var problems: [String] = []
        var instance: GuestInstance?
        func probe(_ what: String, _ body: (GuestInstance, UInt32) throws(GuestFailure) -> GuestError?) throws(RuntimeError) {
            let guest: GuestInstance
            if let instance {
                guest = instance
            } else {
                guest = try GuestInstance(module: self)
                instance = guest
            }
            do {
                let entity = try guest.newEntity(id: "thalo-publish-check")
                switch try body(guest, entity) {
                case .unknownCommand?: problems.append("command \(what) has no handler (the module answers unknown-command)")
                case .unknownEvent?: problems.append("event \(what) cannot be applied (the module answers unknown-event)")
                default: break
                }
                try guest.dropEntity(entity)
            } catch {
                // A trap on an empty payload says nothing about the name being known (a
                // handler may abort on input it never gets from the runtime): not a mismatch.
                instance = nil
            }
        }
        let context = GuestContext(
            id: "00000000-0000-0000-0000-000000000000", streamName: "\(schema.aggregate.category)-thalo-publish-check", position: 0,
            globalPosition: 1, metadata: "{}", time: 0)
        for command in schema.aggregate.commands {
            try probe(command.name) { guest, entity throws(GuestFailure) in
                if case .failure(let error) = try guest.handle(entity, command: command.name, payload: "{}", context: context) {
                    return error == .unknownCommand ? .unknownCommand : nil
                }
                return nil
            }
        }
        for event in schema.events {
            try probe(event.name) { guest, entity throws(GuestFailure) in
                let failure = try guest.apply(entity, events: [GuestRecordedEvent(type: event.name, payload: "{}", context: context)])
                return failure == .unknownEvent ? .unknownEvent : nil
            }
        }
        guard problems.isEmpty else {
            throw RuntimeError(
                .invalidModule,
                "module \(label) does not implement its schema (was it built from this ESDL file?): " + problems.joined(separator: "; "),
                aggregate: name, moduleVersion: version.description)
        }
    }

    /// Whether the module opted into packed arguments (one allocation per call).
    var packsArguments: Bool {
        module.exports.contains { $0.name == ModuleContract.packedArgumentsExport }
    }

    /// `name version`, for messages.
    public var label: String { "\(name) \(version)" }
}
