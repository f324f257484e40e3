/// What a recorded event looks like to a module's `apply`.
public struct GuestRecordedEvent: Sendable {
    public var type: String
    public var payload: String
    public var context: GuestContext

    public init(type: String, payload: String, context: GuestContext) {
        self.type = type
        self.payload = payload
        self.context = context
    }
}

/// The `context` record of the contract (docs/module-contract.md).
public struct GuestContext: Sendable {
    /// The message id.
    public var id: String
    public var streamName: String
    /// Position in the stream, or -1.
    public var position: Int64
    /// Position in the store, or -1.
    public var globalPosition: Int64
    /// JSON object text.
    public var metadata: String
    /// Microseconds since the Unix epoch.
    public var time: Int64

    public init(id: String, streamName: String, position: Int64, globalPosition: Int64, metadata: String, time: Int64) {
        self.id = id
        self.streamName = streamName
        self.position = position
        self.globalPosition = globalPosition
        self.metadata = metadata
        self.time = time
    }
}

/// An event a module's `handle` returned.
public struct GuestEvent: Sendable, Hashable {
    public var type: String
    /// JSON text, as the module wrote it.
    public var payload: String
}

/// The contract's `error` variant.
public enum GuestError: Error, Sendable, Hashable {
    case command(String)
    case ignore(String?)
    case deserializeCommand(String)
    case deserializeEvent(String)
    case unknownCommand
    case unknownEvent
}

/// A failure of the instance itself: a trap, a budget overrun, malformed output. After
/// one, the instance is poisoned and must be replaced.
public struct GuestFailure: Error, CustomStringConvertible {
    /// The export that failed.
    public var export: String
    public var reason: String
    public var description: String { "\(export): \(reason)" }
}

/// A string or byte string for guest memory, copied from where it is (a string's UTF-8
/// storage, an array) without an array made for the copy.
enum GuestArgument {
    case text(String)
    case bytes([UInt8])

    var count: Int {
        switch self {
        case .text(let text): text.utf8.count
        case .bytes(let bytes): bytes.count
        }
    }

    var isEmpty: Bool { count == 0 }

    /// Copies the bytes to `destination`; returns how many.
    func copy(to destination: UnsafeMutableRawPointer) -> Int {
        switch self {
        case .text(var text):
            return text.withUTF8 { utf8 in
                if let base = utf8.baseAddress { destination.copyMemory(from: base, byteCount: utf8.count) }
                return utf8.count
            }
        case .bytes(let bytes):
            return bytes.withUnsafeBytes { raw in
                if let base = raw.baseAddress { destination.copyMemory(from: base, byteCount: raw.count) }
                return raw.count
            }
        }
    }
}
