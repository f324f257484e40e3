import ESDL
import WasmKit

/// A compiled aggregate module that follows the contract: parsed once, instantiated
/// many times (several instances per module, many entities per instance).
public struct AggregateModule: Sendable {
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
    let module: WasmKit.Module

    /// Parses and checks a module: it must import nothing, export the contract's functions
    /// with their exact signatures and a memory, report ABI version 1, and fit the memory cap.
    ///
    /// - Throws: ``RuntimeError`` (`invalidModule`) saying what is missing or wrong.
    public init(name: String, version: SemanticVersion, schema: Schema, bytes: [UInt8], limits: ModuleLimits = ModuleLimits()) throws(RuntimeError) {
        self.name = name
        self.version = version
        self.schema = schema
        self.bytes = bytes
        self.limits = limits
        let label = "module \(name) \(version)"
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
        // Instantiating checks signatures, the memory, the ABI version and that the start
        // and constructors finish within the budget.
        let probe = try GuestInstance(module: self)
        _ = probe
    }

    /// Whether the module opted into packed arguments (one allocation per call).
    var packsArguments: Bool {
        module.exports.contains { $0.name == ModuleContract.packedArgumentsExport }
    }

    /// `name version`, for messages.
    public var label: String { "\(name) \(version)" }
}
