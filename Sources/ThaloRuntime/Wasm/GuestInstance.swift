import AggregateContract
import ESDL
import JSON
@_spi(Fuzzing) import WasmKit

/// One instance of a module: the host side of the canonical ABI glue.
///
/// It resolves every export once, reuses one interpreter stack, always calls post-return,
/// bounds every call with fuel, and checks every pointer, length, tag and string the guest
/// returns, so a misbehaving module yields a ``GuestFailure`` and never crashes the host.
/// Not thread-safe: the runtime's ``InstanceWorker`` owns each one; tools (the spec runner,
/// benchmarks) may drive one directly from a single task.
public final class GuestInstance {
    let module: AggregateModule
    private let store: Store
    private let memory: Memory
    private var stack: ExecutionStack
    private let newEntityFunction: Function
    private let applyFunction: Function
    private let handleFunction: Function
    private let stateFunction: Function
    private let dropEntityFunction: Function
    private let postApply: Function
    private let postHandle: Function
    private let postState: Function
    private let realloc: Function
    /// `snapshot`, `restore` and their post-return functions, when the module has them.
    private let snapshotFunctions: (snapshot: Function, restore: Function, postSnapshot: Function, postRestore: Function)?
    private let packed: Bool
    /// Whether the module implements contract 1.2 (`abi-version` 2): `apply` may run on
    /// events that are not written yet, so the runtime may batch commands.
    public private(set) var appliesUnwrittenEvents = false
    /// Set after a failure: the instance must not be called again.
    public private(set) var isPoisoned = false
    /// Calls made, for metrics.
    private(set) var calls = 0

    /// Instantiates the module (and checks it), ready for entities.
    public init(module: AggregateModule) throws(RuntimeError) {
        self.module = module
        let limits = module.limits
        // Software bounds checks: with WasmKit's default (`mprotect` guard pages) every call
        // into the module goes through a trap guard whose `sigsetjmp` saves the signal mask,
        // a system call per call, and each instance reserves 8 GiB of address space. The
        // software checks made a `handle` call 15-20% faster (BENCHMARKS.md).
        let engine = Engine(
            configuration: EngineConfiguration(
                stackSize: limits.stackBytes, memoryBoundsChecking: .software, fuelMetering: true))
        let store = Store(engine: engine)
        store.resourceLimiter = MemoryCap(maximumBytes: limits.maximumMemoryBytes)
        store.fuel = Fuel(remaining: limits.fuelPerCall)
        self.store = store
        let label = module.label
        func fail(_ reason: String) -> RuntimeError {
            RuntimeError(.invalidModule, "module \(label): \(reason)", aggregate: module.name, moduleVersion: module.version.description)
        }
        let instance: Instance
        do {
            instance = try module.module.instantiate(store: store)
        } catch {
            throw fail("cannot be instantiated: \(error)")
        }
        guard case .memory(let memory)? = instance.export(ModuleContract.memoryExport) else {
            throw fail("does not export its memory as \"memory\"")
        }
        if memory.byteCount > limits.maximumMemoryBytes {
            throw fail("starts with \(memory.byteCount) bytes of memory, more than the cap of \(limits.maximumMemoryBytes)")
        }
        self.memory = memory
        var functions: [String: Function] = [:]
        let optional = module.supportsSnapshots ? ModuleContract.snapshotFunctions : []
        for (name, type) in ModuleContract.requiredFunctions + optional {
            guard let function = instance.exports[function: name] else { throw fail("does not export the function \(name)") }
            guard function.type == type else {
                throw fail("exports \(name) with signature \(function.type), expected \(type)")
            }
            functions[name] = function
        }
        newEntityFunction = functions[ModuleContract.newEntityExport]!
        applyFunction = functions[ModuleContract.applyExport]!
        handleFunction = functions[ModuleContract.handleExport]!
        stateFunction = functions[ModuleContract.stateExport]!
        dropEntityFunction = functions[ModuleContract.dropEntityExport]!
        postApply = functions[ModuleContract.postApplyExport]!
        postHandle = functions[ModuleContract.postHandleExport]!
        postState = functions[ModuleContract.postStateExport]!
        realloc = functions[ModuleContract.reallocExport]!
        if module.supportsSnapshots {
            snapshotFunctions = (
                functions[ModuleContract.snapshotExport]!, functions[ModuleContract.restoreExport]!,
                functions[ModuleContract.postSnapshotExport]!, functions[ModuleContract.postRestoreExport]!
            )
        } else {
            snapshotFunctions = nil
        }
        packed = module.packsArguments
        stack = ExecutionStack(engine: engine)
        do {
            if let initialize = instance.exports[function: ModuleContract.initializeExport] {
                guard initialize.type == FunctionType(parameters: [], results: []) else {
                    throw fail("exports _initialize with signature \(initialize.type), expected () -> ()")
                }
                try invoke(initialize, [], export: ModuleContract.initializeExport)
            }
            let abi = try invoke(functions[ModuleContract.abiVersionExport]!, [], export: ModuleContract.abiVersionExport)
            guard case .i32(let version)? = abi.first, ModuleContract.supportedABIVersions.contains(version) else {
                let supported = ModuleContract.supportedABIVersions.map(String.init).joined(separator: " and ")
                throw fail("reports ABI version \(abi.first.map { "\($0)" } ?? "none"), this runtime implements \(supported)")
            }
            appliesUnwrittenEvents = version == ModuleContract.unwrittenEventsABIVersion
        } catch let error as RuntimeError {
            throw error
        } catch {
            throw fail("failed while starting: \(error)")
        }
    }

    // MARK: Exports

    /// `new-entity`: a new entity with this id; returns its handle.
    public func newEntity(id: String) throws(GuestFailure) -> UInt32 {
        let export = ModuleContract.newEntityExport
        let (pointer, length) = try allocateArguments([GuestArgument.text(id)], export: export)[0]
        let result = try invoke(newEntityFunction, [.i32(pointer), .i32(length)], export: export)
        return try i32(result, export: export)
    }

    /// `drop-entity`.
    public func dropEntity(_ handle: UInt32) throws(GuestFailure) {
        try invoke(dropEntityFunction, [.i32(handle)], export: ModuleContract.dropEntityExport)
    }

    /// `apply`: returns the module's error, if it refused an event.
    public func apply(_ handle: UInt32, events: [GuestRecordedEvent]) throws(GuestFailure) -> GuestError? {
        let export = ModuleContract.applyExport
        guard !events.isEmpty else { return nil }
        // Strings first (one block when packed), then the list of 64-byte records.
        var strings: [GuestArgument] = []
        strings.reserveCapacity(events.count * 5)
        for event in events {
            strings.append(.text(event.type))
            strings.append(.text(event.payload))
            strings.append(.text(event.context.id))
            strings.append(.text(event.context.streamName))
            strings.append(.text(event.context.metadata))
        }
        let listBytes = events.count * ModuleContract.recordedEventSize
        let placed = try allocateArguments(strings, list: (size: listBytes, alignment: 8), export: export)
        let listPointer = placed.last!.pointer
        try writeMemory(at: listPointer, count: listBytes, export: export) { buffer in
            for (index, event) in events.enumerated() {
                let base = index * ModuleContract.recordedEventSize
                let s = index * 5
                func put32(_ offset: Int, _ value: UInt32) {
                    buffer.storeBytes(of: value.littleEndian, toByteOffset: base + offset, as: UInt32.self)
                }
                func put64(_ offset: Int, _ value: Int64) {
                    buffer.storeBytes(of: value.littleEndian, toByteOffset: base + offset, as: Int64.self)
                }
                put32(0, placed[s].pointer); put32(4, placed[s].length)
                put32(8, placed[s + 1].pointer); put32(12, placed[s + 1].length)
                put32(16, placed[s + 2].pointer); put32(20, placed[s + 2].length)
                put32(24, placed[s + 3].pointer); put32(28, placed[s + 3].length)
                put64(32, event.context.position)
                put64(40, event.context.globalPosition)
                put32(48, placed[s + 4].pointer); put32(52, placed[s + 4].length)
                put64(56, event.context.time)
            }
        }
        // The budget grows with the bytes to apply: a large event costs its parsing.
        let bytes = strings.reduce(0) { $0 + $1.count }
        let result = try invoke(
            applyFunction, [.i32(handle), .i32(listPointer), .i32(UInt32(events.count))], export: export,
            fuel: module.limits.fuel(forBytes: bytes))
        let outcome = try readResult(at: try i32(result, export: export), post: postApply, export: export) { _ throws(GuestFailure) in }
        if case .failure(let error) = outcome { return error }
        return nil
    }

    /// `handle`: the events the command produces, or the module's error.
    public func handle(_ handle: UInt32, command: String, payload: String, context: GuestContext) throws(GuestFailure) -> Result<
        [GuestEvent], GuestError
    > {
        let export = ModuleContract.handleExport
        let placed = try allocateArguments(
            [.text(command), .text(payload), .text(context.id), .text(context.streamName), .text(context.metadata)], export: export)
        let arguments: [Value] = [
            .i32(handle),
            .i32(placed[0].pointer), .i32(placed[0].length),
            .i32(placed[1].pointer), .i32(placed[1].length),
            .i32(placed[2].pointer), .i32(placed[2].length),
            .i32(placed[3].pointer), .i32(placed[3].length),
            .i64(UInt64(bitPattern: context.position)), .i64(UInt64(bitPattern: context.globalPosition)),
            .i32(placed[4].pointer), .i32(placed[4].length),
            .i64(UInt64(bitPattern: context.time)),
        ]
        let area = try i32(try invoke(handleFunction, arguments, export: export), export: export)
        return try readResult(at: area, post: postHandle, export: export) { ok throws(GuestFailure) in
            let listPointer = try word(at: ok, export: export)
            let count = Int(try word(at: ok + 4, export: export))
            guard count <= module.limits.maximumEventsPerCommand else {
                throw GuestFailure(
                    export: export, reason: "returned \(count) events, more than the limit of \(module.limits.maximumEventsPerCommand)")
            }
            try checkRange(listPointer, count * ModuleContract.eventSize, alignment: 4, what: "event list", export: export)
            var events: [GuestEvent] = []
            events.reserveCapacity(count)
            var total = 0
            for index in 0..<count {
                let base = listPointer + UInt32(index * ModuleContract.eventSize)
                let type = try string(at: base, export: export, what: "event \(index) type", total: &total)
                let payload = try string(at: base + 8, export: export, what: "event \(index) payload", total: &total)
                events.append(GuestEvent(type: type, payload: payload))
            }
            return events
        }
    }

    /// `state`: the module's JSON view of the entity, if it has one.
    ///
    /// - Parameter appliedBytes: the bytes of events the entity was built from; the budget
    ///   grows with them (``ModuleLimits/fuelPerAppliedByte``), as writing a large state costs.
    public func state(_ handle: UInt32, appliedBytes: Int = 0) throws(GuestFailure) -> String? {
        let export = ModuleContract.stateExport
        let area = try i32(
            try invoke(stateFunction, [.i32(handle)], export: export, fuel: module.limits.fuel(forBytes: appliedBytes)), export: export)
        return try readOption(at: area, post: postState, export: export) { some throws(GuestFailure) in
            var total = 0
            return try string(at: some, export: export, what: "state", total: &total)
        }
    }

    /// `snapshot`: the entity's state as bytes, or nil when the module has none for it (or
    /// no snapshot functions at all).
    ///
    /// - Parameter appliedBytes: as for ``state(_:appliedBytes:)``.
    public func snapshot(_ handle: UInt32, appliedBytes: Int = 0) throws(GuestFailure) -> [UInt8]? {
        guard let functions = snapshotFunctions else { return nil }
        let export = ModuleContract.snapshotExport
        let area = try i32(
            try invoke(functions.snapshot, [.i32(handle)], export: export, fuel: module.limits.fuel(forBytes: appliedBytes)),
            export: export)
        return try readOption(at: area, post: functions.postSnapshot, export: export) { some throws(GuestFailure) in
            var total = 0
            return try span(at: some, export: export, what: "snapshot", total: &total) { Array($0) }
        }
    }

    /// `restore`: a new entity in the state of the snapshot bytes, or the module's error.
    /// Only called when the module has snapshot functions.
    public func restore(id: String, state: [UInt8]) throws(GuestFailure) -> Result<UInt32, GuestError> {
        let export = ModuleContract.restoreExport
        guard let functions = snapshotFunctions else {
            throw GuestFailure(export: export, reason: "the module does not export the snapshot functions")
        }
        let placed = try allocateArguments([.text(id), .bytes(state)], export: export)
        let area = try i32(
            try invoke(
                functions.restore, [.i32(placed[0].pointer), .i32(placed[0].length), .i32(placed[1].pointer), .i32(placed[1].length)],
                export: export, fuel: module.limits.fuel(forBytes: state.count)),
            export: export)
        return try readResult(at: area, post: functions.postRestore, export: export) { ok throws(GuestFailure) in
            try word(at: ok, export: export)
        }
    }

    /// Bytes of linear memory in use, for metrics and memory tests.
    public var memoryBytes: Int { memory.byteCount }

    // MARK: Calling

    @discardableResult
    private func invoke(
        _ function: Function, _ arguments: [Value], export: @autoclosure () -> String, fuel: UInt64? = nil
    ) throws(GuestFailure) -> [Value] {
        guard !isPoisoned else { throw GuestFailure(export: export(), reason: "the instance failed earlier and is being replaced") }
        let budget = fuel ?? module.limits.fuelPerCall
        store.fuel = Fuel(remaining: budget)
        calls += 1
        do {
            return try function.invoke(arguments, on: &stack)
        } catch let error as MemoryCap.Exceeded {
            isPoisoned = true
            throw GuestFailure(
                export: export(), reason: "tried to grow its memory to \(error.desired) bytes, past the cap of \(error.maximum) bytes")
        } catch {
            isPoisoned = true
            let text = "\(error)"
            if text.contains("out of fuel") {
                throw GuestFailure(export: export(), reason: "exceeded its budget of \(budget) instructions")
            }
            let firstLine = text.split(separator: "\n").first.map(String.init) ?? text
            throw GuestFailure(export: export(), reason: "trapped: \(firstLine)")
        }
    }

    /// Copies argument byte strings into guest memory: one `cabi_realloc` per string, or one
    /// for all of them when the module packs arguments. A trailing list area is allocated
    /// after the strings when asked for; it is the last element of the result.
    private func allocateArguments(
        _ strings: [GuestArgument], list: (size: Int, alignment: Int)? = nil, export: String
    ) throws(GuestFailure) -> [(pointer: UInt32, length: UInt32)] {
        var placed: [(pointer: UInt32, length: UInt32)] = []
        placed.reserveCapacity(strings.count + 1)
        if packed {
            var total = 0
            for string in strings { total += string.count }
            var listOffset = 0
            if let list {
                listOffset = (total + list.alignment - 1) / list.alignment * list.alignment
                total = listOffset + list.size
            }
            let base = try reallocate(size: max(total, 1), alignment: list?.alignment ?? 1, export: export)
            var offset = 0
            try writeMemory(at: base, count: total, export: export) { buffer in
                for string in strings {
                    let count = string.copy(to: buffer.baseAddress!.advanced(by: offset))
                    placed.append((base + UInt32(offset), UInt32(count)))
                    offset += count
                }
            }
            if let list { placed.append((base + UInt32(listOffset), UInt32(list.size))) }
            return placed
        }
        for string in strings {
            if string.isEmpty {
                placed.append((1, 0))
                continue
            }
            let pointer = try reallocate(size: string.count, alignment: 1, export: export)
            try writeMemory(at: pointer, count: string.count, export: export) { buffer in
                _ = string.copy(to: buffer.baseAddress!)
            }
            placed.append((pointer, UInt32(string.count)))
        }
        if let list {
            placed.append((try reallocate(size: max(list.size, 1), alignment: list.alignment, export: export), UInt32(list.size)))
        }
        return placed
    }

    private func reallocate(size: Int, alignment: Int, export: String) throws(GuestFailure) -> UInt32 {
        let result = try invoke(
            realloc, [.i32(0), .i32(0), .i32(UInt32(alignment)), .i32(UInt32(size))], export: "cabi_realloc (for \(export))")
        let pointer = try i32(result, export: "cabi_realloc")
        try checkRange(pointer, size, alignment: alignment, what: "cabi_realloc result", export: export)
        return pointer
    }

    // MARK: Reading results

    /// Reads a `result<T, error>` at `area` (`ok` read by `body` at the payload's address),
    /// then calls the export's post-return function.
    private func readResult<T>(
        at area: UInt32, post: Function, export: String, ok body: (UInt32) throws(GuestFailure) -> T
    ) throws(GuestFailure) -> Result<T, GuestError> {
        try reading(area, size: ModuleContract.resultSize, what: "result", post: post, export: export) { area throws(GuestFailure) in
            switch try byte(at: area, export: export) {
            case 0: return .success(try body(area + 4))
            case 1: return .failure(try readError(at: area + 4, export: export))
            case let tag: throw GuestFailure(export: export, reason: "result tag \(tag) is neither ok (0) nor err (1)")
            }
        }
    }

    /// Reads an `option<T>` at `area` (`some` read by `body` at the payload's address), then
    /// calls the export's post-return function.
    private func readOption<T>(
        at area: UInt32, post: Function, export: String, some body: (UInt32) throws(GuestFailure) -> T
    ) throws(GuestFailure) -> T? {
        try reading(area, size: ModuleContract.optionStringSize, what: "option", post: post, export: export) { area throws(GuestFailure) in
            switch try byte(at: area, export: export) {
            case 0: return nil
            case 1: return try body(area + 4)
            case let tag: throw GuestFailure(export: export, reason: "option tag \(tag) is neither none (0) nor some (1)")
            }
        }
    }

    /// Runs `body` on a result area, then calls post-return: always, also when reading the
    /// result fails, which leaves the instance poisoned.
    private func reading<T>(
        _ area: UInt32, size: Int, what: String, post: Function, export: String, _ body: (UInt32) throws(GuestFailure) -> T
    ) throws(GuestFailure) -> T {
        let postExport = "cabi_post_\(export)"
        let value: T
        do throws(GuestFailure) {
            try checkRange(area, size, alignment: 4, what: what, export: export)
            value = try body(area)
        } catch {
            isPoisoned = true
            _ = try? invoke(post, [.i32(area)], export: postExport)
            throw error
        }
        try invoke(post, [.i32(area)], export: postExport)
        return value
    }

    // MARK: Reading and writing guest memory, checked

    private func checkRange(_ pointer: UInt32, _ count: Int, alignment: Int, what: String, export: String) throws(GuestFailure) {
        let end = Int(pointer) + count
        guard count >= 0, end <= memory.byteCount else {
            isPoisoned = true
            throw GuestFailure(
                export: export, reason: "\(what) at \(pointer) (\(count) bytes) lies outside memory of \(memory.byteCount) bytes")
        }
        guard alignment <= 1 || Int(pointer) % alignment == 0 else {
            isPoisoned = true
            throw GuestFailure(export: export, reason: "\(what) at \(pointer) is not aligned to \(alignment) bytes")
        }
    }

    private func writeMemory(at pointer: UInt32, count: Int, export: String, _ body: (UnsafeMutableRawBufferPointer) -> Void)
        throws(GuestFailure)
    {
        try checkRange(pointer, count, alignment: 1, what: "argument area", export: export)
        guard count > 0 else { return }
        memory.withUnsafeMutableBufferPointer(offset: UInt(pointer), count: count, body)
    }

    private func byte(at pointer: UInt32, export: String) throws(GuestFailure) -> UInt8 {
        try checkRange(pointer, 1, alignment: 1, what: "tag", export: export)
        return memory.withUnsafeBufferPointer(offset: UInt(pointer), count: 1) { $0[0] }
    }

    private func word(at pointer: UInt32, export: String) throws(GuestFailure) -> UInt32 {
        try checkRange(pointer, 4, alignment: 1, what: "word", export: export)
        return memory.withUnsafeBufferPointer(offset: UInt(pointer), count: 4) { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
    }

    /// The bytes of a `(ptr, len)` string or list at `pointer`, checked, passed to `body`.
    private func span<T>(
        at pointer: UInt32, export: String, what: String, total: inout Int, _ body: (UnsafeRawBufferPointer) -> T
    ) throws(GuestFailure) -> T {
        let start = try word(at: pointer, export: export)
        let length = Int(try word(at: pointer + 4, export: export))
        total += length
        guard total <= module.limits.maximumResultBytes else {
            isPoisoned = true
            throw GuestFailure(export: export, reason: "returned more than \(module.limits.maximumResultBytes) bytes")
        }
        guard length > 0 else { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        try checkRange(start, length, alignment: 1, what: what, export: export)
        return memory.withUnsafeBufferPointer(offset: UInt(start), count: length) { body(UnsafeRawBufferPointer($0)) }
    }

    /// A `(ptr, len)` string at `pointer`, checked and decoded as strict UTF-8.
    private func string(at pointer: UInt32, export: String, what: String, total: inout Int) throws(GuestFailure) -> String {
        let text = try span(at: pointer, export: export, what: what, total: &total) { raw in
            String(strictUTF8: raw.bindMemory(to: UInt8.self))
        }
        guard let text else {
            isPoisoned = true
            throw GuestFailure(export: export, reason: "\(what) is not valid UTF-8")
        }
        return text
    }

    private func readError(at pointer: UInt32, export: String) throws(GuestFailure) -> GuestError {
        var total = 0
        switch try byte(at: pointer, export: export) {
        case 0: return .command(try string(at: pointer + 4, export: export, what: "error message", total: &total))
        case 1:
            switch try byte(at: pointer + 4, export: export) {
            case 0: return .ignore(nil)
            case 1: return .ignore(try string(at: pointer + 8, export: export, what: "ignore reason", total: &total))
            case let tag:
                isPoisoned = true
                throw GuestFailure(export: export, reason: "option tag \(tag) in ignore is neither none (0) nor some (1)")
            }
        case 2: return .deserializeCommand(try string(at: pointer + 4, export: export, what: "error message", total: &total))
        case 3: return .deserializeEvent(try string(at: pointer + 4, export: export, what: "error message", total: &total))
        case 4: return .unknownCommand
        case 5: return .unknownEvent
        case let tag:
            isPoisoned = true
            throw GuestFailure(export: export, reason: "error tag \(tag) is not one of the six error cases")
        }
    }

    private func i32(_ values: [Value], export: String) throws(GuestFailure) -> UInt32 {
        guard values.count == 1, case .i32(let value) = values[0] else {
            isPoisoned = true
            throw GuestFailure(export: export, reason: "returned \(values) instead of one i32")
        }
        return value
    }
}
