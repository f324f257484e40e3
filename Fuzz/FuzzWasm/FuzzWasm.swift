import ESDL
// libFuzzer entry for wasm module inspection, loading and instantiation (docs/fuzzing.md).
//
// Input: a wasm binary (seeds: the C counter of Examples/c_counter and the misbehaving test
// module, built with clang). Asserts: `WasmModuleInspection` (WasmParser) returns or gives `nil`, and reads
// the same import and export names as WasmKit whenever WasmKit parses the module;
// `AggregateModule` (WasmKit's parser, the contract checks and a probe instantiation, as
// `ModuleRegistry.publish` does) returns or throws; a module that loads is driven through
// every export (new entity, handle, apply, state, drop) within a small fuel budget and a
// memory cap, and each call returns or throws `GuestFailure`: the host never crashes.
import FuzzSupport
import GuestBuilder
import ThaloRuntime
import WasmKit

private let schema: Schema = {
    let source = """
        version = "0.1.0"
        aggregate Counter {
          increment(amount: Int) -> Incremented
          decrement(amount: Int) -> Decremented
        }
        event Incremented { amount: Int, count: Long }
        event Decremented { amount: Int, count: Long }
        """
    do {
        return try Schema.parse(source, file: "counter.esdl")
    } catch {
        fatalError("the fuzz schema does not parse: \(error)")
    }
}()

/// Small bounds so that a run spends its time on many inputs, not on one long loop.
private let limits = ModuleLimits(
    fuelPerCall: 200_000, maximumMemoryBytes: 8 << 20, stackBytes: 64 << 10, maximumEventsPerCommand: 16,
    maximumResultBytes: 1 << 20)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let inspection = WasmModuleInspection(bytes)
    // Where WasmKit reads the module, the inspection must read the same names.
    if let parsed = try? parseWasm(bytes: bytes) {
        guard let inspection else { fatalError("WasmKit reads the module, the inspection gives nil") }
        let imports = parsed.imports.map { "\($0.module).\($0.name)" }
        require(inspection.imports == imports, "inspection imports \(inspection.imports), WasmKit \(imports)")
        let exports = parsed.exports.map(\.name)
        require(inspection.exports == exports, "inspection exports \(inspection.exports), WasmKit \(exports)")
    }
    let module: AggregateModule
    do {
        module = try AggregateModule(name: "Counter", version: schema.version, schema: schema, bytes: bytes, limits: limits)
    } catch {
        require(error.code == .invalidModule, "unexpected error \(error)")
        return 0
    }
    let instance: GuestInstance
    do {
        instance = try GuestInstance(module: module)
    } catch {
        // A module can pass the probe and fail a second start only through its own state
        // (none here: each instance is fresh), but failing is allowed; crashing is not.
        return 0
    }
    drive(instance)
    return 0
}

private func drive(_ instance: GuestInstance) {
    let context = GuestContext(
        id: "00000000-0000-0000-0000-000000000001", streamName: "counter-1", position: 0, globalPosition: 0,
        metadata: "{}", time: 0)
    do throws(GuestFailure) {
        let entity = try instance.newEntity(id: "1")
        _ = try instance.handle(entity, command: "increment", payload: #"{"amount":1}"#, context: context)
        let event = GuestRecordedEvent(type: "Incremented", payload: #"{"amount":1,"count":1}"#, context: context)
        _ = try instance.apply(entity, events: [event, event])
        _ = try instance.handle(entity, command: "decrement", payload: #"{"amount":2}"#, context: context)
        _ = try instance.handle(entity, command: "nope", payload: "[", context: context)
        _ = try instance.state(entity)
        try instance.dropEntity(entity)
    } catch {
        require(instance.isPoisoned || !error.reason.isEmpty, "a failure without a reason")
    }
}

// SwiftPM links executables with `main` renamed to `<module>_main`; hand it to libFuzzer.
@_cdecl("FuzzWasm_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
