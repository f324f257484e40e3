import Foundation

/// How a ``Runtime`` runs its modules and entities.
public struct RuntimeConfiguration: Sendable {
    /// The most live entities kept per aggregate; the least recently used are evicted.
    public var cacheCapacity: Int
    /// Instances per module; entities are spread over them by id. Defaults to the number of cores.
    public var instancesPerModule: Int
    /// How many times a command is retried after another writer changed the entity first.
    public var maximumConflictRetries: Int
    /// Events read per query when an entity is rebuilt.
    public var replayBatchSize: Int64
    /// The bounds of every module call.
    public var limits: ModuleLimits
    /// The consumer name under which command consumers record their positions.
    public var consumerName: String
    /// Whether ``Runtime/run()`` consumes the command streams (`{category}:command`).
    public var consumesCommands: Bool
    /// How often ``Runtime/run()`` looks for modules published by other processes.
    public var registryPollInterval: Duration
    /// How many times the command consumer tries a submitted command whose outcome cannot
    /// be written (for example an unusable reply stream) before it parks the command in the
    /// dead-letter stream `{category}:command+deadLetter-{consumer}` and moves on.
    public var deadLetterAttempts: Int
    /// This node's name in a cluster and in the cluster status.
    public var nodeID: String
    /// Snapshot an entity every this many events (modules with the snapshot functions
    /// only); 0 turns snapshots off: none are written or read. See docs/snapshots.md.
    public var snapshotEvery: Int
    /// The most commands run as one batch on a busy entity (modules of contract 1.2 only,
    /// docs/module-contract.md): commands queued behind the entity run back to back and
    /// their events are written in one append. 1 turns batches off.
    public var maximumBatchSize: Int
    /// Whether the next batch on a busy entity is decided while the one before it is being
    /// written (see ``InstanceWorker``'s batches). Off, the entity waits for each batch's
    /// append before deciding the next: the benchmarks' baseline for the pipeline.
    public var pipelinesBatches: Bool
    /// For tests: awaited on the entity's actor when a batch starts the entity's writer, with
    /// the number of messages of that batch, before the entity passes to the commands queued
    /// behind it. A test holds the next batch back with it until the writer took this one.
    var afterStartingWriter: (@Sendable (_ messages: Int) async -> Void)?

    /// The default node name: the host name and the process id.
    public static var defaultNodeID: String {
        "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
    }

    public init(
        cacheCapacity: Int = 100_000,
        instancesPerModule: Int = ProcessInfo.processInfo.activeProcessorCount,
        maximumConflictRetries: Int = 5,
        replayBatchSize: Int64 = 1_000,
        limits: ModuleLimits = ModuleLimits(),
        consumerName: String = "thalo",
        consumesCommands: Bool = true,
        registryPollInterval: Duration = .seconds(2),
        deadLetterAttempts: Int = 3,
        nodeID: String = RuntimeConfiguration.defaultNodeID,
        snapshotEvery: Int = 100,
        maximumBatchSize: Int = 64,
        pipelinesBatches: Bool = true
    ) {
        self.maximumBatchSize = max(1, maximumBatchSize)
        self.pipelinesBatches = pipelinesBatches
        self.snapshotEvery = max(0, snapshotEvery)
        self.nodeID = nodeID
        self.cacheCapacity = cacheCapacity
        self.instancesPerModule = max(1, instancesPerModule)
        self.maximumConflictRetries = maximumConflictRetries
        self.replayBatchSize = replayBatchSize
        self.limits = limits
        self.consumerName = consumerName
        self.consumesCommands = consumesCommands
        self.registryPollInterval = registryPollInterval
        self.deadLetterAttempts = max(1, deadLetterAttempts)
    }
}
