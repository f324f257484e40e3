import Foundation

/// A category as one consumer reads it: the unit that is divided into partitions. The
/// command consumers of `thalo serve` are `bankAccount:command` read by `thalo`; a
/// projection is its category read under the projection's name.
public struct PartitionedCategory: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The category, e.g. `bankAccount:command` or `bankAccount`.
    public var category: String
    /// The consumer name its positions are recorded under.
    public var consumer: String

    public init(category: String, consumer: String) {
        self.category = category
        self.consumer = consumer
    }

    public static func < (lhs: PartitionedCategory, rhs: PartitionedCategory) -> Bool {
        (lhs.category, lhs.consumer) < (rhs.category, rhs.consumer)
    }

    public var description: String { "\(category) (\(consumer))" }
}

/// One partition of a category that a node holds for a consumer: member `partition` of a
/// consumer group of `partitions`, under lease `epoch`.
public struct PartitionLease: Sendable, Hashable, CustomStringConvertible {
    /// The category, e.g. `bankAccount:command`.
    public var category: String
    /// The consumer whose work this is.
    public var consumer: String
    public var partition: Int
    /// How many partitions the category is divided into.
    public var partitions: Int
    /// Raised by every change of owner: a write under an older epoch is refused.
    public var epoch: Int64

    public init(category: String, consumer: String, partition: Int, partitions: Int, epoch: Int64) {
        self.category = category
        self.consumer = consumer
        self.partition = partition
        self.partitions = partitions
        self.epoch = epoch
    }

    /// The consumer group member that reads this partition's streams.
    public var consumerGroup: ConsumerGroup {
        // partition is in 0..<partitions, checked where leases are made.
        try! ConsumerGroup(member: Int64(partition), size: Int64(max(1, partitions)))
    }

    /// The partition without its epoch.
    public var key: PartitionKey { PartitionKey(work: work, partition: partition) }

    /// What is divided.
    public var work: PartitionedCategory { PartitionedCategory(category: category, consumer: consumer) }

    public var description: String { "\(category) (\(consumer)) partition \(partition)/\(partitions) (epoch \(epoch))" }
}

/// A partition of a category read by a consumer, whoever holds it.
public struct PartitionKey: Sendable, Hashable, Comparable {
    public var work: PartitionedCategory
    public var partition: Int

    public init(work: PartitionedCategory, partition: Int) {
        self.work = work
        self.partition = partition
    }

    public static func < (lhs: PartitionKey, rhs: PartitionKey) -> Bool {
        (lhs.work, lhs.partition) < (rhs.work, rhs.partition)
    }
}

/// What one heartbeat decided.
public struct LeaseAssignment: Sendable, Equatable {
    /// The partitions this node holds and should be consuming.
    public var held: Set<PartitionLease>
    /// Partitions this node holds beyond its share: stop consuming them, then hand them back
    /// with ``PartitionCoordinator/release(_:)``.
    public var excess: Set<PartitionLease>

    public init(held: Set<PartitionLease>, excess: Set<PartitionLease>) {
        self.held = held
        self.excess = excess
    }
}

/// A node as the cluster sees it.
public struct ClusterNode: Sendable, Equatable {
    public var id: String
    public var startedAt: Date
    public var lastHeartbeat: Date
    /// Whether its heartbeat is recent (within a lease duration).
    public var live: Bool

    public init(id: String, startedAt: Date, lastHeartbeat: Date, live: Bool) {
        self.id = id
        self.startedAt = startedAt
        self.lastHeartbeat = lastHeartbeat
        self.live = live
    }
}

/// A partition as the cluster sees it.
public struct ClusterPartition: Sendable, Equatable {
    public var category: String
    /// The consumer reading it (`thalo` for the command consumers).
    public var consumer: String
    public var partition: Int
    public var partitions: Int
    /// The node holding an unexpired lease, if any.
    public var owner: String?
    public var epoch: Int64
    public var expiresAt: Date?
    /// The last recorded global position of its consumer.
    public var position: Int64?
    /// Messages of the partition after that position.
    public var lag: Int64?

    public init(
        category: String, consumer: String, partition: Int, partitions: Int, owner: String?, epoch: Int64, expiresAt: Date?,
        position: Int64?, lag: Int64?
    ) {
        self.category = category
        self.consumer = consumer
        self.partition = partition
        self.partitions = partitions
        self.owner = owner
        self.epoch = epoch
        self.expiresAt = expiresAt
        self.position = position
        self.lag = lag
    }
}

/// The nodes and partitions of a cluster.
public struct ClusterStatus: Sendable, Equatable {
    /// The node that answered.
    public var node: String
    public var nodes: [ClusterNode]
    public var partitions: [ClusterPartition]

    public init(node: String, nodes: [ClusterNode], partitions: [ClusterPartition]) {
        self.node = node
        self.nodes = nodes
        self.partitions = partitions
    }
}

/// Divides categories between the nodes sharing one store: each category is split into
/// partitions (consumer group members), each partition is leased to one node at a time,
/// and a node that stops renewing (or whose session is gone) loses its leases to the others.
///
/// ``PartitionedConsumers`` runs the loop: ``join()`` once, then ``heartbeat(work:)`` every
/// ``heartbeatInterval``, consuming the partitions it is told it holds, stopping the excess
/// ones and handing them back with ``release(_:)``; ``leave()`` at the end.
public protocol PartitionCoordinator: AnyObject, Sendable {
    /// This node's name.
    var nodeID: String { get }
    /// How often to call ``heartbeat(work:)``.
    var heartbeatInterval: Duration { get }
    /// How long a lease lasts without renewal.
    var leaseDuration: Duration { get }

    /// Registers the node; fails when another live node has the same name.
    func join() async throws
    /// Renews this node's leases, notices nodes that are gone, and claims or gives back
    /// partitions of `work` so that it is spread evenly over the live nodes that do it.
    func heartbeat(work: [PartitionedCategory]) async throws -> LeaseAssignment
    /// Hands partitions back at once (after their consumers stopped).
    func release(_ leases: [PartitionLease]) async throws
    /// Hands every partition back and leaves the cluster.
    func leave() async
    /// Whether this node still holds the lease by its own clock: false once the lease could
    /// have expired in the database, even when no heartbeat said so yet.
    func holds(_ lease: PartitionLease) -> Bool
    /// Writes a consumer's position message only while `lease` is held, checked in the same
    /// transaction; a node that lost the lease gets ``MessageStoreError`` `leaseLost`.
    func recordPosition(_ message: NewMessage, to stream: StreamName, under lease: PartitionLease) async throws
    /// The nodes and partitions, with each partition's recorded position and lag.
    func status() async throws -> ClusterStatus
}
