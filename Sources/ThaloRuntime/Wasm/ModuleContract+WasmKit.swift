import AggregateContract
import WasmKit

extension ModuleContract {
    /// Every function the host calls on every module, with its core signature.
    static let requiredFunctions: [(name: String, type: FunctionType)] =
        functions.filter { !$0.isOptional }.flatMap(\.wasmExports)
        + [
            (
                reallocExport,
                FunctionType(parameters: reallocSignature.parameters.map(\.wasm), results: reallocSignature.results.map(\.wasm))
            )
        ]

    /// The snapshot functions (contract 1.1): a module exports all of them or none.
    static let snapshotFunctions: [(name: String, type: FunctionType)] = functions.filter(\.isOptional).flatMap(\.wasmExports)
}

extension ModuleContract.Function {
    /// The function's export and its post-return export, with their WasmKit signatures.
    fileprivate var wasmExports: [(name: String, type: FunctionType)] {
        var exports = [(export, FunctionType(parameters: parameters.map(\.wasm), results: results.map(\.wasm)))]
        if let postReturnExport { exports.append((postReturnExport, FunctionType(parameters: [.i32], results: []))) }
        return exports
    }
}

extension ModuleContract.ValueType {
    fileprivate var wasm: WasmKit.ValueType {
        switch self {
        case .i32: .i32
        case .i64: .i64
        }
    }
}
