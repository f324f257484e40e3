/// Poll waits that double while idle, from a minimum to a maximum.
public struct Backoff: Sendable {
    private let minimum: Duration
    private let maximum: Duration
    private var current: Duration

    public init(minimum: Duration, maximum: Duration) {
        self.minimum = minimum
        self.maximum = max(minimum, maximum)
        self.current = minimum
    }

    /// The wait to use now; the next one is twice as long, up to the maximum.
    public mutating func nextWait() -> Duration {
        let wait = current
        current = min(current * 2, maximum)
        return wait
    }

    /// Back to the shortest wait, after messages arrived.
    public mutating func reset() {
        current = minimum
    }
}
