import Foundation

/// Argument checks that every backend applies the same way, with the same messages.
public enum MessageStoreArguments {
    /// Checks a stream name given to a read: a stream, not a category.
    public static func checkStream(_ stream: StreamName) throws(MessageStoreError) {
        if let problem = StreamName.problem(in: stream.rawValue) {
            throw MessageStoreError(.invalidStreamName, "invalid stream name \"\(stream.rawValue)\": \(problem)")
        }
    }

    /// Checks the stream of a stream read (`get_stream_messages`), which Message DB refuses
    /// for a category name, with this text.
    public static func checkStreamRead(_ stream: StreamName) throws(MessageStoreError) {
        try checkStream(stream)
        if stream.isCategory {
            throw MessageStoreError(.invalidArgument, "Must be a stream name: \(stream.rawValue)")
        }
    }

    /// Checks a category name given to a category read.
    /// The checks every backend's category read makes before touching storage.
    public static func checkCategoryRead(
        _ category: String, from globalPosition: Int64, batchSize: Int64, correlation: String?
    ) throws(MessageStoreError) {
        try checkCategory(category)
        try checkRead(position: globalPosition, batchSize: batchSize, positionName: "global position")
        try checkCorrelation(correlation)
    }

    public static func checkCategory(_ category: String) throws(MessageStoreError) {
        if let problem = StreamName.problem(in: category) {
            throw MessageStoreError(.invalidStreamName, "invalid category name \"\(category)\": \(problem)")
        }
        if category.contains("-") {
            throw MessageStoreError(
                .invalidStreamName, "\"\(category)\" is a stream name, not a category (a category has no '-')")
        }
    }

    /// Checks a consumer's name, which ends the name of its position stream
    /// (`{category}+position-{consumer}`, `…-{consumer}+{member}` in a consumer group): no
    /// `+`, so that no two consumers record in one stream (`x+1` and member 1 of `x`).
    public static func checkConsumer(_ consumer: String, of category: String) throws(MessageStoreError) {
        if consumer.contains("+") {
            throw MessageStoreError(
                .invalidArgument, "invalid consumer name \"\(consumer)\": '+' would mix it up with a consumer group member's")
        }
        let stream = StreamName.position(of: category, consumer: consumer, member: Int64.max).rawValue
        if consumer.isEmpty || consumer.hasSuffix("-") || StreamName.problem(in: stream) != nil {
            throw MessageStoreError(
                .invalidArgument,
                "invalid consumer name \"\(consumer)\": it must be non-empty, without whitespace or control characters, not end in '-', and leave its position stream within \(StreamName.maximumLength) characters"
            )
        }
    }

    /// Checks a correlation category.
    public static func checkCorrelation(_ correlation: String?) throws(MessageStoreError) {
        guard let correlation else { return }
        if correlation.contains("-") {
            throw MessageStoreError(.invalidArgument, "Correlation must be a category (Correlation: \(correlation))")
        }
    }

    /// Checks a read's start position and batch size.
    public static func checkRead(position: Int64, batchSize: Int64, positionName: String) throws(MessageStoreError) {
        if position < 0 {
            throw MessageStoreError(.invalidArgument, "\(positionName) must not be negative, got \(position)")
        }
        if batchSize == 0 || batchSize < -1 {
            throw MessageStoreError(
                .invalidArgument, "batch size must be positive, or -1 for no limit, got \(batchSize)")
        }
    }

    /// Checks the messages of a write and returns the correlation stream of each.
    public static func checkWrite(_ messages: [NewMessage], to stream: StreamName) throws(MessageStoreError) -> [String?] {
        if let problem = StreamName.problem(in: stream.rawValue) {
            throw MessageStoreError(.invalidStreamName, "invalid stream name \"\(stream.rawValue)\": \(problem)")
        }
        if messages.isEmpty {
            throw MessageStoreError(.invalidArgument, "nothing to write to \(stream.rawValue): the batch is empty")
        }
        var correlations: [String?] = []
        correlations.reserveCapacity(messages.count)
        // An empty set allocates nothing: one message (most writes) inserts into none.
        var ids = Set<UUIDKey>()
        for message in messages {
            correlations.append(try message.validate())
            if messages.count > 1, !ids.insert(UUIDKey(message.id)).inserted {
                throw MessageStoreError(
                    .duplicateMessageID, "message id \(message.id.lowercasedText) appears twice in one batch")
            }
        }
        return correlations
    }
}

/// A hashable wrapper for UUIDs used in sets on hot paths.
struct UUIDKey: Hashable {
    let high: UInt64
    let low: UInt64
    init(_ id: UUID) {
        let bytes = id.uuid
        high = withUnsafeBytes(of: bytes) { $0.load(fromByteOffset: 0, as: UInt64.self) }
        low = withUnsafeBytes(of: bytes) { $0.load(fromByteOffset: 8, as: UInt64.self) }
    }
}
