/// Decides when a subscription records its position: a pure value, tested on its own.
public struct PositionTracker: Sendable {
    /// The next global position to read.
    public private(set) var next: Int64
    /// The global position of the last handled message, if any.
    public private(set) var lastHandled: Int64?
    private var handledSinceRecord = 0
    private var lastRecord: ContinuousClock.Instant?
    private let updateInterval: Int
    private let updateTime: Duration

    public init(next: Int64, updateInterval: Int, updateTime: Duration) {
        self.next = next
        self.updateInterval = max(1, updateInterval)
        self.updateTime = updateTime
    }

    /// Whether handled messages are not recorded yet.
    public var hasUnrecorded: Bool { handledSinceRecord > 0 }

    /// Notes a handled message; returns whether the position should be recorded now.
    public mutating func handled(_ globalPosition: Int64, now: ContinuousClock.Instant) -> Bool {
        lastHandled = globalPosition
        next = globalPosition + 1
        handledSinceRecord += 1
        if lastRecord == nil { lastRecord = now }
        return handledSinceRecord >= updateInterval || now - lastRecord! >= updateTime
    }

    /// Whether an idle subscription should record what it handled: once the update time
    /// has passed since the last record, so a quiet category is not written to per message.
    public func shouldRecordWhenIdle(now: ContinuousClock.Instant) -> Bool {
        guard handledSinceRecord > 0 else { return false }
        guard let lastRecord else { return true }
        return now - lastRecord >= updateTime
    }

    /// Notes that the position was recorded.
    public mutating func recorded(now: ContinuousClock.Instant) {
        handledSinceRecord = 0
        lastRecord = now
    }
}
