import Logging
import MessageStore
import Metrics
import ServiceLifecycle

/// A read model that follows events: it names the categories and event types it wants and
/// handles each message.
///
/// ```swift
/// struct Balances: Projection {
///     let categories = ["bankAccount"]
///     let eventTypes: Set<String>? = ["DepositedFunds", "WithdrewFunds"]
///     func handle(_ message: Message) async throws {
///         if let event = try BankAccountEvent(type: message.type, data: Data(message.data.utf8)) { … }
///     }
/// }
/// try await ProjectionRunner(store: store, projection: Balances(), name: "balances").run()
/// ```
///
/// Handlers should be idempotent: delivery is at least once (after a crash, the messages
/// handled since the last recorded position are delivered again).
public protocol Projection: Sendable {
    /// The categories to follow, e.g. `["bankAccount"]`.
    var categories: [String] { get }
    /// The message types to handle; `nil` for every type. Others are skipped (and still
    /// count as read, so the position moves past them).
    var eventTypes: Set<String>? { get }
    /// Handles one message. Throwing retries it with backoff (see ``ProjectionRunner``).
    func handle(_ message: Message) async throws
}

extension Projection {
    public var eventTypes: Set<String>? { nil }
}

/// Runs a ``Projection``: one ``Subscription`` per category, each delivering in global
/// order, recording its position in `{category}:position-{name}` after handling, and
/// resuming there after a restart.
///
/// A handler error is retried with exponential backoff and logged at warning level each
/// time, counted in `thalo_projection_failures_total`; after ``Configuration/skipAfter``
/// failed attempts (when set) the message is skipped, logged at error level and counted in
/// `thalo_projection_skipped_total` — never silently. With a consumer group, several
/// processes share the categories: member `i` of `n` handles the streams assigned to it.
public final class ProjectionRunner<Store: MessageStore>: Service, Sendable {
    /// How the runner reads and retries.
    public struct Configuration: Sendable {
        public var consumerGroup: ConsumerGroup?
        public var batchSize: Int64
        public var positionUpdateInterval: Int
        public var positionUpdateTime: Duration
        public var maximumBackoff: Duration
        /// Skip a message after this many failed attempts; `nil` retries forever.
        public var skipAfter: Int?
        public var minimumPollInterval: Duration
        public var maximumPollInterval: Duration

        public init(
            consumerGroup: ConsumerGroup? = nil, batchSize: Int64 = 500, positionUpdateInterval: Int = 100,
            positionUpdateTime: Duration = .seconds(1), maximumBackoff: Duration = .seconds(30), skipAfter: Int? = nil,
            minimumPollInterval: Duration = .milliseconds(10), maximumPollInterval: Duration = .seconds(1)
        ) {
            self.consumerGroup = consumerGroup
            self.batchSize = batchSize
            self.positionUpdateInterval = positionUpdateInterval
            self.positionUpdateTime = positionUpdateTime
            self.maximumBackoff = maximumBackoff
            self.skipAfter = skipAfter
            self.minimumPollInterval = minimumPollInterval
            self.maximumPollInterval = maximumPollInterval
        }
    }

    private let categories: [String]
    private let name: String
    private let coordinator: (any PartitionCoordinator)?
    private let logger: Logger
    /// Makes the subscription of a category, or of one leased partition of it.
    private let subscription: @Sendable (String, PartitionLease?) -> Subscription<Store>

    /// - Parameters:
    ///   - name: the consumer name under which positions are recorded.
    ///   - coordinator: divides each category with the other processes running this
    ///     projection under the same name (on PostgreSQL, ``MessageDB/MessageDBCoordinator``):
    ///     each process consumes the partitions it leases, and takes over those of a
    ///     process that is gone. Without one, this process reads every category whole (or
    ///     the fixed share of ``Configuration/consumerGroup``).
    public init(
        store: Store, projection: some Projection, name: String, configuration: Configuration = Configuration(),
        coordinator: (any PartitionCoordinator)? = nil, logger: Logger = Logger(label: "thalo.projection")
    ) {
        var logger = logger
        logger[metadataKey: "projection.name"] = "\(name)"
        let handled = Counter(label: "thalo_projection_messages_total", dimensions: [("projection", name)])
        let failures = Counter(label: "thalo_projection_failures_total", dimensions: [("projection", name)])
        let skipped = Counter(label: "thalo_projection_skipped_total", dimensions: [("projection", name)])
        let position = Gauge(label: "thalo_projection_position", dimensions: [("projection", name)])
        let types = projection.eventTypes
        self.categories = projection.categories
        self.name = name
        self.coordinator = coordinator
        self.logger = logger
        let log = logger
        self.subscription = { category, lease in
            var settings = Subscription<Store>.Configuration(
                category: category, consumer: name, consumerGroup: configuration.consumerGroup, batchSize: configuration.batchSize,
                positionUpdateInterval: configuration.positionUpdateInterval, positionUpdateTime: configuration.positionUpdateTime,
                minimumPollInterval: configuration.minimumPollInterval, maximumPollInterval: configuration.maximumPollInterval,
                errorPolicy: .retry(maximumBackoff: configuration.maximumBackoff, skipAfter: configuration.skipAfter))
            if let lease, let coordinator { settings.lease(lease, from: coordinator) }
            return Subscription(
                store: store,
                configuration: settings,
                logger: log,
                observer: { event in
                    switch event.kind {
                    case .handled:
                        handled.increment()
                        position.record(event.globalPosition)
                    case .failed: failures.increment()
                    case .skipped: skipped.increment()
                    case .recorded: break
                    }
                }
            ) { message in
                if let types, !types.contains(message.type) { return }
                try await projection.handle(message)
            }
        }
    }

    /// Follows every category (or, with a coordinator, the partitions this process leases)
    /// until cancelled or graceful shutdown, recording positions on the way out. A
    /// subscription that stops on an error (the store unreachable while it reads its
    /// position, say) is logged and started again after a backoff.
    public func run() async throws {
        guard let coordinator else {
            try await withThrowingDiscardingTaskGroup { group in
                for category in categories {
                    // A mistake that fails every time (a malformed category) ends the run.
                    group.addTask { try await self.keepRunning(category, lease: nil, retrying: isTransientFailure) }
                }
            }
            return
        }
        let work = categories.map { PartitionedCategory(category: $0, consumer: name) }
        try await PartitionedConsumers.run(coordinator: coordinator, work: { work }, logger: logger) { lease in
            // Until the lease goes (the consumer's task is cancelled then).
            try? await self.keepRunning(lease.category, lease: lease, retrying: { _ in true })
        }
    }

    private func keepRunning(_ category: String, lease: PartitionLease?, retrying: (any Error) -> Bool) async throws {
        var backoff = Backoff(minimum: .milliseconds(100), maximum: .seconds(5))
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await subscription(category, lease).run()
                return
            } catch {
                if Task.isCancelled { return }
                guard retrying(error) else { throw error }
                logger.warning(
                    "projection subscription stopped on an error; restarting it",
                    metadata: ["category": "\(category)", "partition": "\(lease.map { "\($0)" } ?? "all")", "error": "\(error)"])
                try? await Task.sleep(for: backoff.nextWait())
            }
        }
    }
}
