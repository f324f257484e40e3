/// A counter. Commands read from the command stream may be delivered more than once;
/// the counter remembers the command-stream position that caused its last event (the
/// event metadata's `causationMessagePosition`) and ignores a command it has already
/// processed.
struct Counter: CounterAggregate {
    var count: Int64 = 0
    /// The highest command-stream position that produced an event, if any.
    var lastCommandPosition: Int64? = nil

    init(id: String) {}

    /// `apply` reads the metadata, which is known before an event is written, and neither
    /// `ctx.globalPosition` nor `ctx.time`: commands of a busy counter may run as a batch
    /// (contract 1.2).
    static var appliesUnwrittenEvents: Bool { true }

    func handleIncrement(_ ctx: Context, amount: Int32) throws(AggregateError) -> Incremented {
        if ctx.processed(lastCommandPosition) { throw .ignore("command already processed") }
        guard amount > 0 else { throw .fatal("amount must be positive") }
        let (next, overflow) = count.addingReportingOverflow(Int64(amount))
        guard !overflow else { throw .fatal("count would overflow") }
        return Incremented(amount: amount, count: next)
    }

    func handleDecrement(_ ctx: Context, amount: Int32) throws(AggregateError) -> Decremented {
        if ctx.processed(lastCommandPosition) { throw .ignore("command already processed") }
        guard amount > 0 else { throw .fatal("amount must be positive") }
        let (next, overflow) = count.subtractingReportingOverflow(Int64(amount))
        guard !overflow else { throw .fatal("count would overflow") }
        return Decremented(amount: amount, count: next)
    }

    mutating func apply(_ event: Incremented, _ ctx: Context) {
        count = event.count
        remember(ctx)
    }

    mutating func apply(_ event: Decremented, _ ctx: Context) {
        count = event.count
        remember(ctx)
    }

    /// Remembers the command position behind an event. Commands executed directly (not
    /// from the command stream) have no position and leave it unchanged.
    private mutating func remember(_ ctx: Context) {
        guard let position = ctx.metadata.int64("causationMessagePosition"), position >= 0 else { return }
        lastCommandPosition = max(lastCommandPosition ?? position, position)
    }

    var state: JSONValue? {
        ["count": .int(count)]
    }

    // Snapshots (docs/snapshots.md): everything `apply` builds up, read back by the init below.

    var snapshot: JSONValue? {
        if let lastCommandPosition {
            return ["count": .int(count), "lastCommandPosition": .int(lastCommandPosition)]
        }
        return ["count": .int(count)]
    }

    init(id: String, snapshot: inout JSONReader) throws(JSONError) {
        try snapshot.beginObject()
        while try snapshot.nextKey() {
            if snapshot.key("count") {
                count = try snapshot.readInt64()
            } else if snapshot.key("lastCommandPosition") {
                lastCommandPosition = try snapshot.readInt64()
            } else {
                try snapshot.skipValue()
            }
        }
    }
}
