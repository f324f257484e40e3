import Synchronization

/// The bounds the HTTP API puts on each request, so that no request can make the server
/// do unbounded work or hold unbounded memory. `thalo serve` sets them from its options;
/// the OpenAPI document states the defaults.
public struct APILimits: Sendable, Hashable {
    /// The largest command body (`execute`, `submit`): a JSON object of parameters.
    public var maximumCommandBodyBytes: Int
    /// The largest publish body: the ESDL source and the base64 module.
    public var maximumPublishBodyBytes: Int
    /// The largest `batchSize` of stream, category and event-stream reads.
    public var maximumBatchSize: Int64
    /// How many Server-Sent Event subscribers may be connected at once (503 beyond).
    public var maximumSubscribers: Int
    /// Whether reads need no token when the server has one.
    public var openReads: Bool

    /// The keep-alive interval a Server-Sent Events client may ask for, in seconds.
    public static let keepAliveSeconds: ClosedRange<Double> = 1...300
    /// The keep-alive interval when the client asks for none, in seconds.
    public static let defaultKeepAliveSeconds: Double = 15

    public init(
        maximumCommandBodyBytes: Int = 1 << 20, maximumPublishBodyBytes: Int = 64 << 20, maximumBatchSize: Int64 = 10_000,
        maximumSubscribers: Int = 256, openReads: Bool = false
    ) {
        self.maximumCommandBodyBytes = maximumCommandBodyBytes
        self.maximumPublishBodyBytes = maximumPublishBodyBytes
        self.maximumBatchSize = maximumBatchSize
        self.maximumSubscribers = maximumSubscribers
        self.openReads = openReads
    }
}

/// The Server-Sent Events subscribers connected now, against the cap.
final class SubscriberCount: Sendable {
    let limit: Int
    private let count = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    /// Takes a place; false when all are taken.
    func enter() -> Bool {
        let now = count.add(1, ordering: .relaxed).newValue
        if now > limit {
            count.subtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func leave() { count.subtract(1, ordering: .relaxed) }

    var current: Int { count.load(ordering: .relaxed) }
}
