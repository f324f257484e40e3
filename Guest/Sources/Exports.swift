// The generic half of the contract's exports (docs/module-contract.md). The generated
// file declares the `@_expose(wasm, …)` functions and forwards to `Exports<Module>`.
//
// Memory: argument memory comes from the shim's arena and is released at the end of every
// call (`thalo_arena_reset`). Results are written into buffers that live as long as the
// module and are reused by every call; `postReturn` only forgets their content (and gives
// back unusually large buffers, so that memory stays flat).

@_extern(c, "thalo_arena_reset") func thalo_arena_reset()
@_extern(c, "thalo_malloc") func thalo_malloc(_ size: Int) -> UnsafeMutableRawPointer?

/// Buffers that hold what a call returns until the host calls post-return.
struct ResultBuffers {
    /// Payloads and error messages.
    var text = JSONWriter()
    /// The `list<event>` of `handle` (16 bytes per event).
    var list: UnsafeMutableRawPointer? = nil
    var listCapacity = 0
    /// The result area (20 bytes; 24 for alignment).
    var area: UnsafeMutableRawPointer? = nil
}

nonisolated(unsafe) var results = ResultBuffers()

/// Buffers above this size are freed after the call instead of being kept for the next.
let keptBufferLimit = 1 << 20

/// The contract's exports for one aggregate module.
public enum Exports<Module: AggregateModule> {
    /// `abi-version`: 2 (contract 1.2) when the aggregate lets the runtime apply events
    /// before they are written, else 1 (contract 1.1).
    public static var abiVersion: UInt32 { Module.appliesUnwrittenEvents ? 2 : 1 }

    /// `new-entity(id) -> u32`.
    public static func newEntity(id: UnsafeRawPointer?, length: Int) -> UInt32 {
        let text = makeString(UnsafeRawBufferPointer(start: id, count: length))
        let handle = Module.entities.insert(Module.makeEntity(id: text))
        thalo_arena_reset()
        return handle
    }

    /// `drop-entity(u32)`.
    public static func dropEntity(_ handle: UInt32) {
        Module.entities.remove(handle)
        thalo_arena_reset()
    }

    /// `apply(entity, list<recorded-event>) -> result<_, error>`.
    public static func apply(_ handle: UInt32, events: UnsafeRawPointer?, count: Int) -> UnsafeMutableRawPointer {
        let area = resultArea()
        do throws(AggregateError) {
            try Module.entities.modify(handle) { (entity) throws(AggregateError) in
                var offset = 0
                for _ in 0..<count {
                    let event = events! + offset
                    try Module.apply(
                        &entity, eventType: string(event, 0), payload: string(event, 8),
                        context: context(event + 16))
                    offset += 64
                }
            }
            area.storeBytes(of: 0, as: UInt8.self)
        } catch {
            area.storeBytes(of: 1, as: UInt8.self)
            write(error, at: area + 4)
        }
        thalo_arena_reset()
        return area
    }

    /// `handle(entity, command, context) -> result<list<event>, error>`, flattened.
    public static func handle(
        _ handle: UInt32,
        commandPointer: UnsafeRawPointer?, commandLength: Int,
        payloadPointer: UnsafeRawPointer?, payloadLength: Int,
        idPointer: UnsafeRawPointer?, idLength: Int,
        streamNamePointer: UnsafeRawPointer?, streamNameLength: Int,
        position: Int64, globalPosition: Int64,
        metadataPointer: UnsafeRawPointer?, metadataLength: Int,
        time: Int64
    ) -> UnsafeMutableRawPointer {
        let area = resultArea()
        let context = Context(
            id: UnsafeRawBufferPointer(start: idPointer, count: idLength),
            streamName: UnsafeRawBufferPointer(start: streamNamePointer, count: streamNameLength),
            position: position, globalPosition: globalPosition,
            metadata: UnsafeRawBufferPointer(start: metadataPointer, count: metadataLength),
            time: time)
        var events = EventList(writer: results.text)
        results.text = JSONWriter()  // owned by `events` until the handler returns
        do throws(AggregateError) {
            try Module.entities.read(handle) { (entity) throws(AggregateError) in
                try Module.handle(
                    entity,
                    command: UnsafeRawBufferPointer(start: commandPointer, count: commandLength),
                    payload: UnsafeRawBufferPointer(start: payloadPointer, count: payloadLength),
                    context: context, events: &events)
            }
            results.text = events.writer
            let list = eventList(capacity: events.count)
            let base = address(results.text.buffer.baseAddress)
            for index in 0..<events.count {
                let entry = list + index * 16
                let offset = entry.load(fromByteOffset: 8, as: UInt32.self)
                entry.storeBytes(of: base &+ offset, toByteOffset: 8, as: UInt32.self)
            }
            area.storeBytes(of: 0, as: UInt8.self)
            area.storeBytes(of: address(list), toByteOffset: 4, as: UInt32.self)
            area.storeBytes(of: UInt32(events.count), toByteOffset: 8, as: UInt32.self)
        } catch {
            results.text = events.writer
            results.text.reset()
            area.storeBytes(of: 1, as: UInt8.self)
            write(error, at: area + 4)
        }
        thalo_arena_reset()
        return area
    }

    /// `state(entity) -> option<string>`.
    public static func state(_ handle: UInt32) -> UnsafeMutableRawPointer {
        optionalJSON(Module.entities.read(handle) { entity in Module.state(entity) })
    }

    /// `snapshot(entity) -> option<list<u8>>`: the aggregate's snapshot as JSON text.
    public static func snapshot(_ handle: UInt32) -> UnsafeMutableRawPointer {
        optionalJSON(Module.entities.read(handle) { entity in Module.snapshot(entity) })
    }

    /// An `option<string>` (or `option<list<u8>>`) result holding `value` as JSON text.
    static func optionalJSON(_ value: JSONValue?) -> UnsafeMutableRawPointer {
        let area = resultArea()
        if let value {
            results.text.reset()
            results.text.value(value)
            area.storeBytes(of: 1, as: UInt8.self)
            area.storeBytes(of: address(results.text.buffer.baseAddress), toByteOffset: 4, as: UInt32.self)
            area.storeBytes(of: UInt32(results.text.count), toByteOffset: 8, as: UInt32.self)
        } else {
            area.storeBytes(of: 0, as: UInt8.self)
        }
        thalo_arena_reset()
        return area
    }

    /// `restore(id, list<u8>) -> result<u32, error>`: a new entity from a snapshot.
    public static func restore(
        id: UnsafeRawPointer?, idLength: Int, state: UnsafeRawPointer?, stateLength: Int
    ) -> UnsafeMutableRawPointer {
        let area = resultArea()
        let text = makeString(UnsafeRawBufferPointer(start: id, count: idLength))
        do throws(JSONError) {
            var reader = JSONReader(UnsafeRawBufferPointer(start: state, count: stateLength))
            let entity = try Module.restore(id: text, snapshot: &reader)
            try reader.end()
            area.storeBytes(of: 0, as: UInt8.self)
            area.storeBytes(of: Module.entities.insert(entity), toByteOffset: 4, as: UInt32.self)
        } catch {
            area.storeBytes(of: 1, as: UInt8.self)
            // `Text`, not `+`: String concatenation costs some 30 KB of module in Embedded Swift.
            var message = Text()
            message.append("snapshot: ")
            message.append(error.message)
            write(.deserializeEvent(message.string), at: area + 4)
        }
        thalo_arena_reset()
        return area
    }

    /// `cabi_post_…`: the host has copied the result out.
    public static func postReturn(_ result: UnsafeMutableRawPointer?) {
        results.text.reset()
        if results.text.capacity > keptBufferLimit { results.text.release() }
        if results.listCapacity * 16 > keptBufferLimit {
            thalo_free(results.list)
            results.list = nil
            results.listCapacity = 0
        }
    }
}

@inline(__always)
func address(_ pointer: UnsafeRawPointer?) -> UInt32 {
    UInt32(UInt(bitPattern: pointer))
}

@inline(__always)
func string(_ base: UnsafeRawPointer, _ offset: Int) -> UnsafeRawBufferPointer {
    let pointer = UnsafeRawPointer(bitPattern: UInt(base.load(fromByteOffset: offset, as: UInt32.self)))
    let count = Int(base.load(fromByteOffset: offset + 4, as: UInt32.self))
    return UnsafeRawBufferPointer(start: pointer, count: count)
}

/// Reads a 48-byte `context` record.
@inline(__always)
func context(_ base: UnsafeRawPointer) -> Context {
    Context(
        id: string(base, 0), streamName: string(base, 8),
        position: base.loadUnaligned(fromByteOffset: 16, as: Int64.self),
        globalPosition: base.loadUnaligned(fromByteOffset: 24, as: Int64.self),
        metadata: string(base, 32),
        time: base.loadUnaligned(fromByteOffset: 40, as: Int64.self))
}

func resultArea() -> UnsafeMutableRawPointer {
    if let area = results.area { return area }
    guard let area = thalo_malloc(24) else { fatalError("out of memory") }
    results.area = area
    return area
}

func eventList(capacity: Int) -> UnsafeMutableRawPointer {
    if capacity > results.listCapacity || results.list == nil {
        let newCapacity = max(capacity, results.listCapacity * 2, 4)
        guard let list = thalo_realloc(results.list, newCapacity * 16) else { fatalError("out of memory") }
        results.list = list
        results.listCapacity = newCapacity
    }
    return results.list!
}

/// Writes an `error` variant (16 bytes) at `target`, its text into the result buffer.
func write(_ error: AggregateError, at target: UnsafeMutableRawPointer) {
    target.storeBytes(of: error.kind.rawValue, as: UInt8.self)
    switch error.kind {
    case .command, .deserializeCommand, .deserializeEvent:
        let (pointer, count) = text(error.message)
        target.storeBytes(of: pointer, toByteOffset: 4, as: UInt32.self)
        target.storeBytes(of: count, toByteOffset: 8, as: UInt32.self)
    case .ignore:
        if error.message != nil {
            let (pointer, count) = text(error.message)
            target.storeBytes(of: 1, toByteOffset: 4, as: UInt8.self)
            target.storeBytes(of: pointer, toByteOffset: 8, as: UInt32.self)
            target.storeBytes(of: count, toByteOffset: 12, as: UInt32.self)
        } else {
            target.storeBytes(of: 0, toByteOffset: 4, as: UInt8.self)
        }
    case .unknownCommand, .unknownEvent:
        break
    }
}

/// Copies a message into the result buffer; returns its address and length.
func text(_ message: String?) -> (UInt32, UInt32) {
    guard let message else { return (0, 0) }
    results.text.reset()
    withUTF8(message) { results.text.write(raw: $0) }
    return (address(results.text.buffer.baseAddress), UInt32(results.text.count))
}
