import Foundation
import MessageStore

/// What the runtime keeps per live entity: its guest handle, the stream version it has
/// applied, the command ids it has seen (for idempotency), and a FIFO lock so that one
/// command at a time runs against it.
///
/// Owned by one ``InstanceWorker`` and only touched on that actor.
final class EntityRecord {
    let id: String
    let key: EntityKey
    let stream: StreamName
    /// The guest's handle, valid for instance `generation` only.
    var handle: UInt32?
    var generation = -1
    /// The position of the last event applied; -1 before the first.
    var version: Int64 = -1
    /// The command ids whose events are in the stream (the latest
    /// ``ProcessedCommands/defaultCapacity`` of them), with the digest of their command and payload
    /// (nil for events written before digests were recorded).
    var processed = ProcessedCommands()
    /// The id of the event at `version`, which a snapshot records to recognise its stream.
    var lastEventID: UUID?
    /// The position of the latest snapshot written or restored (or of the last time the
    /// module had no snapshot to give); -1 when none is known.
    var snapshotVersion: Int64 = -1
    /// Bytes of event data (or snapshot) the entity was built from, to budget `snapshot`.
    var appliedBytes = 0
    var locked = false
    /// Commands waiting for the entity, in arrival order.
    var waiters: [QueuedCommand] = []
    /// Whether the last command run on the entity ran in a batch with others.
    var lastTurnWasBatch = false
    /// Decided batches whose events the entity has applied and the store has not written
    /// yet, oldest first: those of the append in flight, then those queued behind it (see
    /// ``InstanceWorker/runBatch(_:on:)``).
    var unwrittenBatches: [QueuedWrite] = []
    /// The hand-over of decided batches to the entity's writer, which runs off the actor.
    let writeQueue = WriteQueue()
    /// The entity's last append handed to a store that chains appends, which the next batch's
    /// append follows; nil after a failed append.
    var lastChainedAppend: ChainedAppend?
    /// Whether a command alone has applied its events while their append is in flight
    /// (``InstanceWorker/applyWhileWriting(_:_:to:)``): the entity's
    /// state is then ahead of `version`.
    var appliesAhead = false
    /// Turns waiting for the batch writer to finish.
    var settleWaiters: [CheckedContinuation<Void, Never>] = []
    // Recency list links.
    var newer: EntityRecord?
    var older: EntityRecord?

    init(id: String, stream: StreamName) {
        self.id = id
        self.key = EntityKey(id)
        self.stream = stream
    }

    var isBusy: Bool { locked || !waiters.isEmpty || isWriting }

    /// Whether the entity's batch writer is running: it runs while there are unwritten batches.
    var isWriting: Bool { !unwrittenBatches.isEmpty }

    /// Events the entity has applied that are not written yet: its decisions stand at
    /// `version + unwrittenEvents`.
    var unwrittenEvents: Int64 { unwrittenBatches.reduce(0) { $0 + Int64($1.messages.count) } }

    /// Whether a batch not written yet decided the command.
    func isDecidedUnwritten(_ commandID: UUID) -> Bool {
        unwrittenBatches.contains { $0.commandIDs.contains(commandID) }
    }

    /// Starts over with a new guest entity that has applied nothing.
    func reset(handle: UInt32, generation: Int) {
        self.handle = handle
        self.generation = generation
        version = -1
        lastEventID = nil
        processed = ProcessedCommands()
        snapshotVersion = -1
        appliedBytes = 0
    }
}

/// A command waiting for its entity to be free.
struct QueuedCommand {
    /// What the command learns when its wait ends.
    enum Turn: Sendable {
        /// It holds the entity now and runs (taking the commands queued behind it along).
        case holdsEntity
        /// It ran in another command's batch: its outcome.
        case answered(Result<CommandOutcome, RuntimeError>)
    }

    let command: PreparedCommand
    /// Whether the command must run alone when its turn comes (it ran in a batch that was
    /// given up): it neither joins a batch nor takes others into one.
    let alone: Bool
    let continuation: CheckedContinuation<Turn, Never>
}

/// An entity id by its UTF-8 bytes. Swift compares `String`s by canonical equivalence
/// (`"é"` written precomposed equals `"e\u{301}"`), but the stores compare bytes: those
/// are two streams, and must be two entities.
struct EntityKey: Hashable {
    let bytes: [UInt8]
    init(_ id: String) { bytes = Array(id.utf8) }
}

/// Live entities with least-recently-used eviction; busy entities are never evicted.
struct EntityCache {
    private(set) var records: [EntityKey: EntityRecord] = [:]
    private var newest: EntityRecord?
    private var oldest: EntityRecord?
    var capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    var count: Int { records.count }

    /// The record for `id`, marked as most recently used; nil when not cached.
    mutating func get(_ id: String) -> EntityRecord? {
        guard let record = records[EntityKey(id)] else { return nil }
        moveToFront(record)
        return record
    }

    /// The record for `id`, leaving the order of use as it is.
    func peek(_ id: String) -> EntityRecord? { records[EntityKey(id)] }

    /// Adds a record as the most recently used one.
    mutating func insert(_ record: EntityRecord) {
        records[record.key] = record
        record.older = newest
        record.newer = nil
        newest?.newer = record
        newest = record
        if oldest == nil { oldest = record }
    }

    /// Removes and returns the least recently used records beyond the capacity.
    mutating func evictOverflow() -> [EntityRecord] {
        var evicted: [EntityRecord] = []
        var candidate = oldest
        while records.count > capacity, let record = candidate {
            candidate = record.newer
            if record.isBusy { continue }
            remove(record)
            evicted.append(record)
        }
        return evicted
    }

    /// Removes every record.
    mutating func removeAll() -> [EntityRecord] {
        let all = Array(records.values)
        records.removeAll()
        for record in all {
            record.newer = nil
            record.older = nil
        }
        newest = nil
        oldest = nil
        return all
    }

    mutating func remove(_ record: EntityRecord) {
        guard records[record.key] === record else { return }
        records[record.key] = nil
        unlink(record)
    }

    private mutating func moveToFront(_ record: EntityRecord) {
        guard newest !== record else { return }
        unlink(record)
        record.older = newest
        newest?.newer = record
        newest = record
        if oldest == nil { oldest = record }
    }

    private mutating func unlink(_ record: EntityRecord) {
        record.newer?.older = record.older
        record.older?.newer = record.newer
        if newest === record { newest = record.older }
        if oldest === record { oldest = record.newer }
        record.newer = nil
        record.older = nil
    }
}

/// The command ids an entity processed, with their digests: the latest ``capacity`` of them
/// (``defaultCapacity``),
/// so that a hot entity's memory does not grow with its stream. A repeat of an older command
/// is still recognised when it writes events again: their ids, derived from the command id,
/// are taken, and the runtime finds the command in the stream (docs/snapshots.md).
struct ProcessedCommands {
    /// How many command ids a live entity remembers.
    static let defaultCapacity = 10_000

    let capacity: Int
    private var digests: [UUID: CommandDigest?] = [:]
    /// The ids in `digests`, oldest at `oldest` once the ring is full.
    private var ring: [UUID] = []
    private var oldest = 0

    init(capacity: Int = Self.defaultCapacity) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    var count: Int { digests.count }

    /// The digest the command id was processed with (`.some(nil)` when none was recorded),
    /// or nil when the id is not known. Setting records the id as the latest one.
    subscript(id: UUID) -> CommandDigest?? {
        get { digests[id] }
        set {
            guard let digest = newValue else { return }
            if digests.updateValue(digest, forKey: id) != nil { return }
            if ring.count < capacity {
                ring.append(id)
            } else {
                digests[ring[oldest]] = nil
                ring[oldest] = id
                oldest = (oldest + 1) % capacity
            }
        }
    }
}
