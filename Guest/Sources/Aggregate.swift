/// An event type generated from ESDL: its name on the wire and its JSON form.
public protocol Event: JSONCodable {
    /// The event type as written in the ESDL file, e.g. `DepositedFunds`.
    static var eventType: StaticString { get }
}

/// A record generated from ESDL (an event or a custom type) that reads and writes its
/// JSON object form.
public protocol JSONCodable {
    /// Reads the value from JSON.
    static func decode(from reader: inout JSONReader) throws(JSONError) -> Self
    /// Writes the value as JSON.
    func encode(to writer: inout JSONWriter)
}

extension JSONCodable {
    /// Reads the value from JSON text, which must hold nothing else.
    public static func decode(json: UnsafeRawBufferPointer) throws(JSONError) -> Self {
        var reader = JSONReader(json)
        let value = try decode(from: &reader)
        try reader.end()
        return value
    }

    /// Reads the value from JSON text, which must hold nothing else.
    public static func decode(json: [UInt8]) throws(JSONError) -> Self {
        let result = json.withUnsafeBytes { (bytes) -> Result<Self, JSONError> in
            do throws(JSONError) {
                return .success(try decode(json: bytes))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// The value as UTF-8 JSON text.
    public var json: [UInt8] {
        var writer = JSONWriter()
        encode(to: &writer)
        let bytes = writer.bytes
        writer.release()
        return bytes
    }
}

/// The glue between the contract's exports and one aggregate; the generator writes the
/// conformance (`enum BankAccountModule: AggregateModule`).
public protocol AggregateModule {
    /// The author's aggregate type.
    associatedtype Entity

    /// The live entities of this module instance.
    static var entities: EntityTable<Entity> { get set }

    /// A new entity with the given id.
    static func makeEntity(id: String) -> Entity

    /// Decodes one recorded event by type and applies it.
    static func apply(
        _ entity: inout Entity, eventType: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer,
        context: Context
    ) throws(AggregateError)

    /// Decodes a command by name, runs its handler and appends the events it returns.
    static func handle(
        _ entity: borrowing Entity, command: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer,
        context: Context, events: inout EventList
    ) throws(AggregateError)

    /// The entity's state view, or `nil` when the aggregate has none.
    static func state(_ entity: borrowing Entity) -> JSONValue?

    /// The entity's snapshot (JSON), or `nil` when the aggregate takes none.
    static func snapshot(_ entity: borrowing Entity) -> JSONValue?

    /// An entity rebuilt from a snapshot; throws when the snapshot cannot be read.
    static func restore(id: String, snapshot: inout JSONReader) throws(JSONError) -> Entity

    /// Whether the aggregate lets the runtime apply events before they are written
    /// (contract 1.2): `abi-version` then answers 2 and commands queued for one entity run
    /// as a batch.
    static var appliesUnwrittenEvents: Bool { get }
}

extension AggregateModule {
    public static var appliesUnwrittenEvents: Bool { false }
}

/// The events a handler returned, encoded as they are appended.
///
/// Entries go straight into the result's `list<event>` buffer (reused across calls), with
/// payload offsets that the export glue turns into addresses once the text buffer stops
/// growing: no allocation per call.
public struct EventList {
    @usableFromInline var writer: JSONWriter
    /// Number of events appended.
    public private(set) var count = 0

    init(writer: JSONWriter) {
        self.writer = writer
    }

    /// Encodes and appends an event.
    public mutating func append<E: Event>(_ event: E) {
        let start = writer.count
        event.encode(to: &writer)
        let entry = eventList(capacity: count + 1) + count * 16
        entry.storeBytes(of: address(E.eventType.utf8Start), toByteOffset: 0, as: UInt32.self)
        entry.storeBytes(of: UInt32(E.eventType.utf8CodeUnitCount), toByteOffset: 4, as: UInt32.self)
        entry.storeBytes(of: UInt32(start), toByteOffset: 8, as: UInt32.self)  // an offset until finished
        entry.storeBytes(of: UInt32(writer.count - start), toByteOffset: 12, as: UInt32.self)
        count += 1
    }
}

/// Reads a command payload, turning a JSON error into ``AggregateError/deserializeCommand(_:)``.
@inline(__always)
public func decodeCommandPayload<Value>(
    _ payload: UnsafeRawBufferPointer, _ body: (inout JSONReader) throws(JSONError) -> Value
) throws(AggregateError) -> Value {
    do {
        var reader = JSONReader(payload)
        let value = try body(&reader)
        try reader.end()
        return value
    } catch {
        throw .deserializeCommand(error.message)
    }
}

/// Reads an event payload, turning a JSON error into ``AggregateError/deserializeEvent(_:)``.
@inline(__always)
public func decodeEventPayload<E: Event>(_ type: E.Type, _ payload: UnsafeRawBufferPointer) throws(AggregateError) -> E {
    do {
        return try E.decode(json: payload)
    } catch {
        throw .deserializeEvent(error.message)
    }
}

/// Stores a value out of line, so that a generated struct can contain its own type
/// through an optional (`type Category { parent: Category? }`). Value semantics are kept:
/// assigning makes a new box, boxes are never mutated.
@propertyWrapper
public struct Indirect<Value> {
    final class Box {
        let value: Value
        init(_ value: Value) { self.value = value }
    }

    var box: Box

    /// Boxes a value.
    public init(wrappedValue: Value) {
        box = Box(wrappedValue)
    }

    /// The boxed value.
    public var wrappedValue: Value {
        get { box.value }
        set { box = Box(newValue) }
    }
}

extension Indirect: Equatable where Value: Equatable {
    public static func == (lhs: Indirect, rhs: Indirect) -> Bool {
        lhs.box === rhs.box || lhs.wrappedValue == rhs.wrappedValue
    }
}
