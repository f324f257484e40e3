/// The aggregate module contract, written once: the names, signatures and layouts of
/// `wit/aggregate.wit` (explained byte by byte in docs/module-contract.md). The runtime
/// checks and calls modules with it, the code generators emit its export names, and the
/// guest builder checks built modules against it; a test compares it with the WIT file.
public enum ModuleContract {
    /// What `abi-version` returns for contracts 1.0 and 1.1 (1.1 only adds optional functions).
    public static let abiVersion: UInt32 = 1
    /// What `abi-version` returns for contract 1.2: the same functions and layouts, and the
    /// module lets the host `apply` events before they are written (global position and time
    /// -1), so that commands queued for one entity run as a batch.
    public static let unwrittenEventsABIVersion: UInt32 = 2
    /// Every `abi-version` this runtime accepts.
    public static let supportedABIVersions: [UInt32] = [abiVersion, unwrittenEventsABIVersion]
    /// The contract's version, for documentation and messages.
    public static let version = "1.2"
    /// The WIT package.
    public static let package = "thalo:aggregate@0.1.0"
    /// The interface every function is exported under.
    public static let interface = "thalo:aggregate/aggregate@0.1.0"

    /// A core WebAssembly value type in a signature.
    public enum ValueType: Sendable, Hashable {
        case i32, i64
    }

    /// A function of the interface.
    public struct Function: Sendable, Hashable {
        /// The WIT name, e.g. `new-entity`.
        public var name: String
        /// The core signature under the canonical ABI (parameters flattened).
        public var parameters: [ValueType]
        public var results: [ValueType]
        /// Whether it returns through memory, so that the module also exports
        /// `cabi_post_{export}` (`(i32) -> ()`).
        public var hasPostReturn: Bool
        /// Whether a module may leave it out (contract 1.1's snapshot functions, all or none).
        public var isOptional: Bool

        /// The export name: `thalo:aggregate/aggregate@0.1.0#new-entity`.
        public var export: String { "\(ModuleContract.interface)#\(name)" }
        /// The post-return export name, when it has one.
        public var postReturnExport: String? { hasPostReturn ? "cabi_post_\(export)" : nil }
    }

    /// Every function of the interface, in the order of the WIT file.
    public static let functions: [Function] = [
        Function(name: "abi-version", parameters: [], results: [.i32], hasPostReturn: false, isOptional: false),
        Function(name: "new-entity", parameters: [.i32, .i32], results: [.i32], hasPostReturn: false, isOptional: false),
        Function(name: "apply", parameters: [.i32, .i32, .i32], results: [.i32], hasPostReturn: true, isOptional: false),
        Function(
            name: "handle",
            // entity, command (2 strings), context (id, stream-name, position, global-position, metadata, time)
            parameters: [.i32, .i32, .i32, .i32, .i32, .i32, .i32, .i32, .i32, .i64, .i64, .i32, .i32, .i64], results: [.i32],
            hasPostReturn: true, isOptional: false),
        Function(name: "state", parameters: [.i32], results: [.i32], hasPostReturn: true, isOptional: false),
        Function(name: "drop-entity", parameters: [.i32], results: [], hasPostReturn: false, isOptional: false),
        Function(name: "snapshot", parameters: [.i32], results: [.i32], hasPostReturn: true, isOptional: true),
        Function(name: "restore", parameters: [.i32, .i32, .i32, .i32], results: [.i32], hasPostReturn: true, isOptional: true),
    ]

    /// The function with a WIT name.
    public static func function(_ name: String) -> Function {
        guard let function = functions.first(where: { $0.name == name }) else { preconditionFailure("no contract function \(name)") }
        return function
    }

    public static let memoryExport = "memory"
    public static let reallocExport = "cabi_realloc"
    /// `(old, old_size, align, new_size) -> ptr`.
    public static let reallocSignature: (parameters: [ValueType], results: [ValueType]) = ([.i32, .i32, .i32, .i32], [.i32])
    /// Called once after instantiation when exported (reactor modules' constructors).
    public static let initializeExport = "_initialize"
    /// Exported (any signature) by modules that accept all of a call's arguments in one block.
    public static let packedArgumentsExport = "thalo_packed_arguments"

    /// Every export a module must have: the memory, `cabi_realloc`, the required functions
    /// and their post-return functions.
    public static let requiredExports: [String] = [memoryExport, reallocExport] + exports(optional: false)
    /// The optional snapshot exports, all or none.
    public static let snapshotExports: [String] = exports(optional: true)

    private static func exports(optional: Bool) -> [String] {
        let selected = functions.filter { $0.isOptional == optional }
        return selected.map(\.export) + selected.compactMap(\.postReturnExport)
    }

    public static let abiVersionExport = function("abi-version").export
    public static let newEntityExport = function("new-entity").export
    public static let applyExport = function("apply").export
    public static let handleExport = function("handle").export
    public static let stateExport = function("state").export
    public static let dropEntityExport = function("drop-entity").export
    public static let snapshotExport = function("snapshot").export
    public static let restoreExport = function("restore").export
    public static let postApplyExport = function("apply").postReturnExport!
    public static let postHandleExport = function("handle").postReturnExport!
    public static let postStateExport = function("state").postReturnExport!
    public static let postSnapshotExport = function("snapshot").postReturnExport!
    public static let postRestoreExport = function("restore").postReturnExport!

    // Layouts (bytes), docs/module-contract.md "Layouts in memory".
    public static let contextSize = 48
    public static let recordedEventSize = 64
    public static let eventSize = 16
    /// `result<_, error>`, `result<list<event>, error>` and `result<u32, error>`.
    public static let resultSize = 20
    /// `option<string>` and `option<list<u8>>`.
    public static let optionStringSize = 12
}
