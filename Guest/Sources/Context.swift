/// Where a message came from: the command being handled, or an event being applied.
///
/// A context is a view into the argument memory of the current call. Read what you need
/// from it inside the handler or `apply`; do not keep the context itself in the entity,
/// because its text is released when the call returns.
///
/// ```swift
/// func handleIncrement(_ ctx: Context, amount: Int32) throws(AggregateError) -> Incremented {
///     if ctx.processed(lastCommandPosition) { throw .ignore("already processed") }
///     return Incremented(amount: amount, count: count + Int64(amount))
/// }
/// ```
public struct Context {
    /// The message id (a UUID in text form) as UTF-8 bytes.
    public let idBytes: UnsafeRawBufferPointer
    /// The stream the message is in as UTF-8 bytes.
    public let streamNameBytes: UnsafeRawBufferPointer
    /// Position of the message in its stream, or -1 when the command did not come from a
    /// stream (it was executed directly).
    public let position: Int64
    /// Position of the message in the whole store, or -1.
    public let globalPosition: Int64
    /// The message's metadata, a JSON object.
    public let metadata: Metadata
    /// When the message was written: microseconds since 1970-01-01T00:00:00Z.
    public let time: Int64

    /// Creates a context over raw bytes (the export glue and tests use this).
    public init(
        id: UnsafeRawBufferPointer, streamName: UnsafeRawBufferPointer, position: Int64,
        globalPosition: Int64, metadata: UnsafeRawBufferPointer, time: Int64
    ) {
        self.idBytes = id
        self.streamNameBytes = streamName
        self.position = position
        self.globalPosition = globalPosition
        self.metadata = Metadata(bytes: metadata)
        self.time = time
    }

    /// The message id (a UUID in text form).
    public var id: String { makeString(idBytes) }

    /// The stream the message is in (`bankAccount-123`, `bankAccount:command-123`).
    public var streamName: String { makeString(streamNameBytes) }

    /// Whether this message was already handled: its position is at or before `sequence`,
    /// the last position the entity has seen from the same stream.
    ///
    /// Always `false` when `sequence` is `nil` or when the message has no position (-1,
    /// a command executed directly rather than read from the command stream).
    public func processed(_ sequence: Int64?) -> Bool {
        guard let sequence, position >= 0 else { return false }
        return position <= sequence
    }
}

/// A message's metadata: a JSON object with Eventide's camelCase keys
/// (`causationMessagePosition`, `correlationStreamName`, …).
///
/// Keys are looked up on the raw bytes without building a dictionary, so reading one
/// value costs a scan of the object.
public struct Metadata {
    /// The metadata as UTF-8 JSON text (`{}` when the message has none).
    public let bytes: UnsafeRawBufferPointer

    /// Wraps raw JSON text.
    public init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// The metadata JSON text, copied.
    public var json: [UInt8] { Array(bytes) }

    /// The integer at a top-level key, or `nil` when the key is missing, `null`, or not an
    /// integer.
    ///
    /// ```swift
    /// let position = ctx.metadata.int64("causationMessagePosition")
    /// ```
    public func int64(_ key: StaticString) -> Int64? {
        var reader = JSONReader(bytes)
        guard (try? reader.seek(key)) == true else { return nil }
        if (try? reader.readNull()) == true { return nil }
        return try? reader.readInt64()
    }

    /// The string at a top-level key, or `nil` when the key is missing, `null`, or not a
    /// string.
    public func string(_ key: StaticString) -> String? {
        var reader = JSONReader(bytes)
        guard (try? reader.seek(key)) == true else { return nil }
        if (try? reader.readNull()) == true { return nil }
        return try? reader.readString()
    }

    /// The boolean at a top-level key, or `nil` when the key is missing or not a boolean.
    public func bool(_ key: StaticString) -> Bool? {
        var reader = JSONReader(bytes)
        guard (try? reader.seek(key)) == true else { return nil }
        return try? reader.readBool()
    }
}
