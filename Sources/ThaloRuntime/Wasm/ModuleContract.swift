import WasmKit

/// Names and layouts of the module contract (wit/aggregate.wit, docs/module-contract.md).
enum ModuleContract {
    static let abiVersion: UInt32 = 1
    static let interface = "thalo:aggregate/aggregate@0.1.0"

    static let abiVersionExport = "\(interface)#abi-version"
    static let newEntityExport = "\(interface)#new-entity"
    static let applyExport = "\(interface)#apply"
    static let handleExport = "\(interface)#handle"
    static let stateExport = "\(interface)#state"
    static let dropEntityExport = "\(interface)#drop-entity"
    static let postApplyExport = "cabi_post_\(interface)#apply"
    static let postHandleExport = "cabi_post_\(interface)#handle"
    static let postStateExport = "cabi_post_\(interface)#state"
    static let snapshotExport = "\(interface)#snapshot"
    static let restoreExport = "\(interface)#restore"
    static let postSnapshotExport = "cabi_post_\(interface)#snapshot"
    static let postRestoreExport = "cabi_post_\(interface)#restore"
    static let reallocExport = "cabi_realloc"
    static let memoryExport = "memory"
    static let initializeExport = "_initialize"
    static let packedArgumentsExport = "thalo_packed_arguments"

    /// Every function the host calls, with its core signature.
    static let requiredFunctions: [(name: String, type: FunctionType)] = [
        (abiVersionExport, FunctionType(parameters: [], results: [.i32])),
        (newEntityExport, FunctionType(parameters: [.i32, .i32], results: [.i32])),
        (applyExport, FunctionType(parameters: [.i32, .i32, .i32], results: [.i32])),
        (
            handleExport,
            FunctionType(
                parameters: [.i32, .i32, .i32, .i32, .i32, .i32, .i32, .i32, .i32, .i64, .i64, .i32, .i32, .i64],
                results: [.i32])
        ),
        (stateExport, FunctionType(parameters: [.i32], results: [.i32])),
        (dropEntityExport, FunctionType(parameters: [.i32], results: [])),
        (postApplyExport, FunctionType(parameters: [.i32], results: [])),
        (postHandleExport, FunctionType(parameters: [.i32], results: [])),
        (postStateExport, FunctionType(parameters: [.i32], results: [])),
        (reallocExport, FunctionType(parameters: [.i32, .i32, .i32, .i32], results: [.i32])),
    ]

    /// The snapshot functions (contract 1.1): a module exports all of them or none.
    static let snapshotFunctions: [(name: String, type: FunctionType)] = [
        (snapshotExport, FunctionType(parameters: [.i32], results: [.i32])),
        (restoreExport, FunctionType(parameters: [.i32, .i32, .i32, .i32], results: [.i32])),
        (postSnapshotExport, FunctionType(parameters: [.i32], results: [])),
        (postRestoreExport, FunctionType(parameters: [.i32], results: [])),
    ]

    // Layouts (bytes).
    static let contextSize = 48
    static let recordedEventSize = 64
    static let eventSize = 16
    static let resultSize = 20
    static let optionStringSize = 12
}
