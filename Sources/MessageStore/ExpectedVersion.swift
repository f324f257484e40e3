/// What a writer expects the stream's version (the position of its last message) to be.
///
/// A mismatch fails the write with `Wrong expected version: X (Stream: S, Stream Version: V)`
/// and writes nothing. Message DB spells "no stream" as -1.
public enum ExpectedVersion: Sendable, Hashable, CustomStringConvertible {
    /// The stream must not exist yet (Message DB's -1).
    case noStream
    /// The stream's last message must be at this position.
    case version(Int64)

    /// From Message DB's integer form: -1 means ``noStream``.
    public init(_ value: Int64) {
        self = value == -1 ? .noStream : .version(value)
    }

    /// Message DB's integer form: -1 for ``noStream``.
    public var value: Int64 {
        switch self {
        case .noStream: -1
        case .version(let version): version
        }
    }

    public var description: String { String(value) }
}
