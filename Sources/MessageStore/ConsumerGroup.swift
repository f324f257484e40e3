/// A member of a consumer group: it reads only the streams of a category whose cardinal id
/// hashes to it, so that `size` members together read every stream exactly once.
///
/// The assignment is Message DB's: `abs(hash_64(cardinal_id)) % size == member`, so every
/// backend and every Message DB client agree on who reads what.
public struct ConsumerGroup: Sendable, Hashable, CustomStringConvertible {
    /// This member's number, `0..<size`.
    public var member: Int64
    /// The number of members.
    public var size: Int64

    /// - Throws: ``MessageStoreError`` (`invalidArgument`) unless `size > 0` and `0 <= member < size`.
    public init(member: Int64, size: Int64) throws(MessageStoreError) {
        guard size > 0 else {
            throw MessageStoreError(.invalidArgument, "consumer group size must be at least 1, got \(size)")
        }
        guard member >= 0 && member < size else {
            throw MessageStoreError(
                .invalidArgument, "consumer group member must be between 0 and \(size - 1) for a group of \(size), got \(member)")
        }
        self.member = member
        self.size = size
    }

    /// Whether a stream belongs to this member. A stream without an id (a category name)
    /// belongs to none: Message DB's `cardinal_id` is NULL for it, so no member reads it.
    public func contains(_ stream: StreamName) -> Bool {
        stream.cardinalID != nil && ConsumerGroup.partition(of: stream, size: size) == member
    }

    /// The member number a stream belongs to in a group of `size`.
    public static func partition(of stream: StreamName, size: Int64) -> Int64 {
        let hash = Hash64.messageDB(stream.cardinalID ?? stream.rawValue)
        return Int64(hash.magnitude % UInt64(size))
    }

    public var description: String { "member \(member) of \(size)" }
}
