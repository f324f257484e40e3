import Foundation
import Logging
import MessageStore
import Metrics
import NIOCore
import PostgresNIO
import Synchronization

/// Divides categories (the command categories of `thalo serve`, and projections) between
/// the nodes sharing one PostgreSQL, with leases in `thalo.leases` (category, consumer,
/// partition, owner, epoch, expiry on the database clock) and one row per node in
/// `thalo.nodes` (with the work it does).
///
/// - Each node renews its leases every heartbeat; a lease not renewed for
///   ``Configuration/leaseDuration`` expires and may be claimed by another node, which
///   raises its epoch.
/// - Each node holds a session advisory lock of its own on a dedicated connection. When a
///   peer can take that lock, the node's session is gone (the process died, or its
///   connection did): its leases are expired at once instead of waiting.
/// - A node holds at most ceil(partitions / live nodes doing that work) partitions of a
///   category: it claims free or expired ones up to that share and hands back the excess,
///   so work spreads when nodes join and is taken over when they leave.
/// - Fencing: positions are written only in a transaction that finds this node's lease,
///   with its epoch, unexpired; and a node stops handling a partition as soon as its own
///   clock says the lease may have expired (``holds(_:)``), before any heartbeat says so,
///   or its node lock's connection closes (peers may then take its partitions at once).
public actor MessageDBCoordinator: PartitionCoordinator {
    /// How a node divides work.
    public struct Configuration: Sendable {
        public var nodeID: String
        /// Partitions per category for categories not divided yet (an existing division keeps its count).
        public var partitions: Int
        public var heartbeatInterval: Duration
        public var leaseDuration: Duration

        public init(nodeID: String, partitions: Int = 16, heartbeatInterval: Duration = .seconds(1), leaseDuration: Duration = .seconds(5))
        {
            self.nodeID = nodeID
            self.partitions = partitions
            self.heartbeatInterval = heartbeatInterval
            self.leaseDuration = leaseDuration
        }
    }

    /// The first key of every node lock (`pg_try_advisory_lock(int, int)`, a key space apart
    /// from Message DB's `bigint` stream locks): "thal".
    static let lockClass: Int32 = 0x7468_616C

    /// The first key of the lock on a node id, whose second key is `hashtext(id)`: "than".
    /// The lock connection holds it next to the node lock, so that of two processes given
    /// one id only one takes part, however closely they start.
    static let nodeIDLockClass: Int32 = 0x7468_616E

    /// The first key of the transaction lock taken while dividing a piece of work into
    /// partitions, whose second key is `hashtext` of its name: "thad".
    static let divideLockClass: Int32 = 0x7468_6164

    public nonisolated let nodeID: String
    public nonisolated let heartbeatInterval: Duration
    public nonisolated let leaseDuration: Duration
    private let configuration: Configuration
    private let store: MessageDBStore
    private let logger: Logger
    /// The local deadline of each held lease, read by consumers without waiting on the actor.
    private nonisolated let deadlines = Mutex<[PartitionKey: (epoch: Int64, deadline: ContinuousClock.Instant)]>([:])
    private var held: [PartitionKey: PartitionLease] = [:]
    private var partitionCounts: [PartitionedCategory: Int] = [:]
    private var lockConnection: PostgresConnection?
    private var lockKey: Int32 = 0
    private var lockHeld = false
    private var nextConnectionID = 1
    /// The lock attempt under way. A heartbeat abandoned at its deadline leaves its attempt
    /// running; the next one waits for it instead of opening a second session beside it.
    private var lockAttempt: Task<Void, any Error>?
    /// This process's lock sessions' `application_name`: a session of its own that outlived
    /// its connection (a network break the close never crossed) still holds the node id's
    /// lock, and is told apart from another process's by it.
    private let sessionName = "thalo-node-" + UUID().uuidString.lowercased()
    /// What a connection that must never be reused (its session may still live) is kept in
    /// until it is closed: tests abandon one to stand for a network break.
    private var abandonedConnections: [PostgresConnection] = []

    private let ownedGauge = Gauge(label: "thalo_partitions_owned")
    private let acquired = Counter(label: "thalo_lease_changes_total", dimensions: [("change", "acquired")])
    private let lost = Counter(label: "thalo_lease_changes_total", dimensions: [("change", "lost")])
    private let released = Counter(label: "thalo_lease_changes_total", dimensions: [("change", "released")])
    private let takeovers = Counter(label: "thalo_cluster_nodes_gone_total")

    public init(store: MessageDBStore, configuration: Configuration, logger: Logger) throws(MessageStoreError) {
        guard !configuration.nodeID.isEmpty, configuration.nodeID.count <= 200,
            !configuration.nodeID.contains(where: { $0.isWhitespace || $0.isNewline })
        else {
            throw MessageStoreError(.invalidArgument, "node id \"\(configuration.nodeID)\" must be 1 to 200 characters without whitespace")
        }
        guard (1...1024).contains(configuration.partitions) else {
            throw MessageStoreError(.invalidArgument, "partitions must be between 1 and 1024, got \(configuration.partitions)")
        }
        guard configuration.leaseDuration >= configuration.heartbeatInterval * 2 else {
            throw MessageStoreError(
                .invalidArgument, "the lease duration must be at least twice the heartbeat interval, so a healthy node renews in time")
        }
        self.store = store
        self.configuration = configuration
        self.nodeID = configuration.nodeID
        self.heartbeatInterval = configuration.heartbeatInterval
        self.leaseDuration = configuration.leaseDuration
        var logger = logger
        logger[metadataKey: "node.id"] = .string(configuration.nodeID)
        self.logger = logger
    }

    private var leaseSeconds: Double { Double(leaseDuration.components.seconds) + Double(leaseDuration.components.attoseconds) / 1e18 }

    // MARK: Joining and leaving

    public func join() async throws {
        try await withTranslation("joining the cluster as node \(nodeID)") {
            // Refused (nodeIDInUse) while another running node holds this id's lock.
            try await self.ensureLock()
            try await self.store.client.query(
                """
                INSERT INTO thalo.nodes (id, lock_key, started_at, last_heartbeat) VALUES (\(self.nodeID), \(self.lockKey), now(), now())
                ON CONFLICT (id) DO UPDATE SET lock_key = excluded.lock_key, started_at = now(), last_heartbeat = now()
                """, logger: self.logger)
        }
        logger.info("joined the cluster", metadata: ["lease.duration": "\(leaseDuration)"])
    }

    public func leave() async {
        let keys = Array(held.values)
        // Without its locks, another process may be running under this id by now: what
        // `owner = id` selects may be that node's, so nothing is handed back then. (A lock
        // connection that merely dropped is opened again first.)
        let holdsLocks = (try? await ensureLock()) != nil
        let (store, nodeID, lockKey, logger) = (self.store, self.nodeID, self.lockKey, self.logger)
        do {
            guard holdsLocks else {
                throw MessageStoreError(.unavailable, "this node does not hold its node lock")
            }
            try await withTimeout(leaseDuration, "leaving the cluster") {
                try await store.client.query(
                    "UPDATE thalo.leases SET owner = NULL, expires_at = now() WHERE owner = \(nodeID)", logger: logger)
                try await store.client.query("DELETE FROM thalo.nodes WHERE id = \(nodeID) AND lock_key = \(lockKey)", logger: logger)
            }
            released.increment(by: Int64(keys.count))
            logger.info("left the cluster", metadata: ["partitions.released": "\(keys.count)"])
        } catch {
            logger.warning("could not hand back the partitions on leaving; they expire by themselves", metadata: ["error": "\(error)"])
        }
        held = [:]
        deadlines.withLock { $0 = [:] }
        ownedGauge.record(0)
        if let connection = lockConnection {
            lockConnection = nil
            // Let go of the locks before closing: a closed connection's server process frees
            // them only once it has exited, and the id must be free when leave() returns.
            _ = try? await withTimeout(leaseDuration, "releasing the locks of node \(nodeID)") {
                try await connection.query("SELECT pg_advisory_unlock_all()", logger: logger)
            }
            try? await connection.close()
        }
        for connection in abandonedConnections { try? await connection.close() }
        abandonedConnections = []
    }

    // MARK: Heartbeat

    public func heartbeat(work: [PartitionedCategory]) async throws -> LeaseAssignment {
        let started = ContinuousClock.now
        do {
            // A heartbeat stuck on a dead connection must not stop the next ones.
            return try await withTimeout(leaseDuration, "the cluster heartbeat of node \(self.nodeID)") {
                try await self.withTranslation("the cluster heartbeat of node \(self.nodeID)") {
                    try await self.beat(work: work, started: started)
                }
            }
        } catch let error as MessageStoreError where error.code == .unavailable {
            await dropLockConnection()
            throw error
        }
    }

    /// Closes the node lock's connection (what is waiting on it fails); the next heartbeat
    /// opens a new one and takes the lock again.
    private func dropLockConnection() async {
        guard let connection = lockConnection else { return }
        lockConnection = nil
        lockHeld = false
        try? await connection.close()
    }

    /// How `thalo.nodes.work` names a piece of work.
    static func workName(_ work: PartitionedCategory) -> String { "\(work.category) \(work.consumer)" }

    private func beat(work: [PartitionedCategory], started: ContinuousClock.Instant) async throws -> LeaseAssignment {
        let client = store.client
        // Without its locks peers take this node for gone and take its partitions over: it
        // renews and claims nothing then, and its leases run out (the heartbeat fails).
        try await ensureLock()
        let workNames = work.map(Self.workName)
        try await client.query(
            """
            INSERT INTO thalo.nodes (id, lock_key, work, started_at, last_heartbeat) VALUES (\(nodeID), \(lockKey), \(workNames), now(), now())
            ON CONFLICT (id) DO UPDATE SET last_heartbeat = now(), lock_key = excluded.lock_key, work = excluded.work
            """, logger: logger)
        // Renew what is still ours; what is not was taken over.
        var renewed: [PartitionKey: PartitionLease] = [:]
        let leaseSeconds = self.leaseSeconds
        let rows = try await client.query(
            """
            UPDATE thalo.leases SET expires_at = now() + make_interval(secs => \(leaseSeconds))
            WHERE owner = \(nodeID) RETURNING category, consumer, partition, partitions, epoch
            """, logger: logger)
        for try await (category, consumer, partition, partitions, epoch) in rows.decode((String, String, Int32, Int32, Int64).self) {
            let lease = PartitionLease(
                category: category, consumer: consumer, partition: Int(partition), partitions: Int(partitions), epoch: epoch)
            renewed[lease.key] = lease
        }
        for (key, lease) in held where renewed[key]?.epoch != lease.epoch {
            lost.increment()
            logger.warning("lost a partition to another node", metadata: ["partition": "\(lease)"])
        }
        setHeld(renewed, deadline: started + leaseDuration)
        for item in work where partitionCounts[item] == nil {
            try await divide(item)
        }
        try await removeGoneNodes()
        let live = try await liveNodes(doing: work)
        var excess = Set<PartitionLease>()
        for item in work {
            guard let partitions = partitionCounts[item] else { continue }
            let nodes = max(1, live[Self.workName(item)] ?? 1)
            let share = (partitions + nodes - 1) / nodes
            let owned = held.values.filter { $0.work == item }.sorted { $0.partition < $1.partition }
            if owned.count > share {
                excess.formUnion(owned.suffix(owned.count - share))
            } else if owned.count < share {
                try await claim(item, count: share - owned.count, deadline: started + leaseDuration)
            }
        }
        ownedGauge.record(held.count)
        return LeaseAssignment(held: Set(held.values).subtracting(excess), excess: excess)
    }

    /// Creates the lease rows of a category read by a consumer when it is not divided yet,
    /// and reads its partition count.
    private func divide(_ work: PartitionedCategory) async throws {
        let partitions = Int32(configuration.partitions)
        // One node divides a category: nodes configured with other partition counts that
        // start together wait for each other here (a lock on the work's name), and the
        // later ones find the rows made. Two inserts meeting halfway would mix the counts.
        let logger = self.logger
        do {
            try await store.client.withTransaction(logger: logger) { connection in
                try await connection.query(
                    "SELECT pg_advisory_xact_lock(\(Self.divideLockClass), hashtext(\(Self.workName(work))))", logger: logger)
                try await connection.query(
                    """
                    INSERT INTO thalo.leases (category, consumer, partition, partitions)
                    SELECT \(work.category), \(work.consumer), p, \(partitions) FROM generate_series(0, \(partitions) - 1) AS p
                    WHERE NOT EXISTS (SELECT 1 FROM thalo.leases WHERE category = \(work.category) AND consumer = \(work.consumer))
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
            }
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error.beginError ?? error.commitError ?? error
        }
        let rows = try await store.client.query(
            "SELECT count(*)::int4, min(partitions) FROM thalo.leases WHERE category = \(work.category) AND consumer = \(work.consumer)",
            logger: logger)
        for try await (count, recorded) in rows.decode((Int32, Int32).self) {
            if count != recorded {
                throw MessageStoreError(
                    .storage, "thalo.leases has \(count) rows for \(work) but says it has \(recorded) partitions; fix or delete its rows")
            }
            if Int(recorded) != configuration.partitions {
                logger.warning(
                    "the category is already divided into another number of partitions; keeping it",
                    metadata: [
                        "category": "\(work.category)", "consumer": "\(work.consumer)", "partitions": "\(recorded)",
                        "configured": "\(configuration.partitions)",
                    ])
            }
            partitionCounts[work] = Int(recorded)
        }
    }

    /// How many live nodes (this one included) do each piece of work, by work name.
    private func liveNodes(doing work: [PartitionedCategory]) async throws -> [String: Int] {
        let leaseSeconds = self.leaseSeconds
        let rows = try await store.client.query(
            """
            SELECT w, count(*)::int4 FROM thalo.nodes, unnest(work) AS w
            WHERE last_heartbeat > now() - make_interval(secs => \(leaseSeconds)) OR id = \(nodeID)
            GROUP BY w
            """, logger: logger)
        var live: [String: Int] = [:]
        for try await (name, count) in rows.decode((String, Int32).self) { live[name] = Int(count) }
        return live
    }

    /// Deletes the nodes that are gone (their lock is free) or silent for longer than a
    /// lease, expiring the leases of the former at once.
    private func removeGoneNodes() async throws {
        let client = store.client
        let leaseSeconds = self.leaseSeconds
        let rows = try await client.query(
            """
            SELECT id, lock_key, last_heartbeat < now() - make_interval(secs => \(leaseSeconds))
            FROM thalo.nodes WHERE id <> \(nodeID)
            """, logger: logger)
        var peers: [(String, Int32, Bool)] = []
        for try await peer in rows.decode((String, Int32, Bool).self) { peers.append(peer) }
        for (id, key, silent) in peers {
            let gone = lockHeld && key != lockKey ? try await probe(key) : false
            if gone {
                takeovers.increment()
                logger.notice("a node is gone (its session lock is free): taking over its partitions", metadata: ["peer": "\(id)"])
                try await client.query(
                    "UPDATE thalo.leases SET expires_at = now() - interval '1 millisecond' WHERE owner = \(id)", logger: logger)
                try await client.query("DELETE FROM thalo.nodes WHERE id = \(id) AND lock_key = \(key)", logger: logger)
            } else if silent {
                logger.notice("a node has been silent for longer than a lease: its partitions are free", metadata: ["peer": "\(id)"])
                try await client.query("DELETE FROM thalo.nodes WHERE id = \(id) AND lock_key = \(key)", logger: logger)
            }
        }
    }

    /// Claims up to `count` free or expired partitions of a category, picked at random.
    private func claim(_ work: PartitionedCategory, count: Int, deadline: ContinuousClock.Instant) async throws {
        let leaseSeconds = self.leaseSeconds
        let rows = try await store.client.query(
            """
            UPDATE thalo.leases AS l SET owner = \(nodeID), epoch = l.epoch + 1, expires_at = now() + make_interval(secs => \(leaseSeconds))
            FROM (
              SELECT category, consumer, partition FROM thalo.leases
              WHERE category = \(work.category) AND consumer = \(work.consumer) AND (owner IS NULL OR expires_at < now())
              ORDER BY random() LIMIT \(Int32(count)) FOR UPDATE SKIP LOCKED
            ) AS free
            WHERE l.category = free.category AND l.consumer = free.consumer AND l.partition = free.partition
            RETURNING l.partition, l.partitions, l.epoch
            """, logger: logger)
        var claimed: [PartitionLease] = []
        for try await (partition, partitions, epoch) in rows.decode((Int32, Int32, Int64).self) {
            claimed.append(
                PartitionLease(
                    category: work.category, consumer: work.consumer, partition: Int(partition), partitions: Int(partitions), epoch: epoch))
        }
        guard !claimed.isEmpty else { return }
        var next = held
        for lease in claimed { next[lease.key] = lease }
        setHeld(next, deadline: deadline, keepDeadlines: true)
        acquired.increment(by: Int64(claimed.count))
        logger.info(
            "claimed partitions", metadata: ["work": "\(work)", "partitions": "\(claimed.map(\.partition).sorted())"])
    }

    /// Records the held leases and arms their local deadlines, but only while the node's
    /// locks are held: checked under the deadlines' lock, so a lock connection that closes
    /// at any moment of a heartbeat leaves nothing armed (its close suspends the leases).
    private func setHeld(_ leases: [PartitionKey: PartitionLease], deadline: ContinuousClock.Instant, keepDeadlines: Bool = false) {
        held = leases
        let lock = lockHeld ? lockConnection : nil
        deadlines.withLock { deadlines in
            guard let lock, !lock.isClosed else {
                deadlines = [:]
                return
            }
            var next: [PartitionKey: (epoch: Int64, deadline: ContinuousClock.Instant)] = [:]
            for (key, lease) in leases {
                if keepDeadlines, let current = deadlines[key], current.epoch == lease.epoch {
                    next[key] = current
                } else {
                    next[key] = (lease.epoch, deadline)
                }
            }
            deadlines = next
        }
    }

    public func release(_ leases: [PartitionLease]) async throws {
        let (store, nodeID, logger) = (self.store, self.nodeID, self.logger)
        for lease in leases {
            try await withTranslation("handing back \(lease)") {
                // Like a heartbeat, handing back must not hang on a dead connection.
                try await withTimeout(self.leaseDuration, "handing back \(lease)") {
                    _ = try await store.client.query(
                        """
                        UPDATE thalo.leases SET owner = NULL, expires_at = now()
                        WHERE category = \(lease.category) AND consumer = \(lease.consumer) AND partition = \(Int32(lease.partition))
                          AND owner = \(nodeID) AND epoch = \(lease.epoch)
                        """, logger: logger)
                }
            }
            var next = held
            next[lease.key] = nil
            setHeld(next, deadline: .now, keepDeadlines: true)
            released.increment()
            logger.info("handed back a partition", metadata: ["partition": "\(lease)"])
        }
        ownedGauge.record(held.count)
    }

    /// Makes ``holds(_:)`` false for every lease until the next heartbeat renews them.
    private nonisolated func suspendLeases() {
        deadlines.withLock { $0 = [:] }
    }

    public nonisolated func holds(_ lease: PartitionLease) -> Bool {
        deadlines.withLock { deadlines in
            guard let held = deadlines[lease.key], held.epoch == lease.epoch else { return false }
            return ContinuousClock.now < held.deadline
        }
    }

    // MARK: Fenced writes

    public func recordPosition(_ message: NewMessage, to stream: StreamName, under lease: PartitionLease) async throws {
        guard holds(lease) else {
            throw MessageStoreError(.leaseLost, "node \(nodeID) no longer holds \(lease); the position was not written")
        }
        let nodeID = self.nodeID
        let logger = self.logger
        let store = self.store
        do {
            try await withTimeout(leaseDuration, "recording the position in \(stream)") {
                try await Self.fencedWrite(message, to: stream, under: lease, nodeID: nodeID, store: store, logger: logger)
            }
        } catch let error as PostgresTransactionError {
            if let closure = error.closureError as? MessageStoreError { throw closure }
            throw MessageDBErrors.translate(error.closureError ?? error, context: "recording the position in \(stream)")
        } catch let error as MessageStoreError {
            throw error
        } catch {
            throw MessageDBErrors.translate(error, context: "recording the position in \(stream)")
        }
    }

    private static func fencedWrite(
        _ message: NewMessage, to stream: StreamName, under lease: PartitionLease, nodeID: String, store: MessageDBStore, logger: Logger
    ) async throws {
        do {
            try await store.client.withTransaction(logger: logger) { connection in
                let rows = try await connection.query(
                    """
                    SELECT 1 FROM thalo.leases
                    WHERE category = \(lease.category) AND consumer = \(lease.consumer) AND partition = \(Int32(lease.partition))
                      AND owner = \(nodeID) AND epoch = \(lease.epoch) AND expires_at > now()
                    FOR SHARE
                    """, logger: logger)
                var found = false
                for try await _ in rows { found = true }
                guard found else {
                    throw MessageStoreError(.leaseLost, "node \(nodeID) no longer holds \(lease); the position was not written")
                }
                _ = try await store.writeOne(message, to: stream, expectedVersion: nil, on: connection)
            }
        }
    }

    // MARK: Status

    /// The nodes, the partitions' leases, positions and lags. Gives up after the store's
    /// ``MessageDBStore/Configuration/requestTimeout`` with `unavailable`: `GET /v1/cluster`
    /// answers a 503 instead of waiting on a connection that died.
    public func status() async throws -> ClusterStatus {
        let context = "reading the cluster status"
        return try await withTranslation(context) { try await self.store.withDeadline(context) { try await self.readStatus() } }
    }

    private func readStatus() async throws -> ClusterStatus {
        let client = store.client
        let leaseSeconds = self.leaseSeconds
        var nodes: [ClusterNode] = []
        let nodeRows = try await client.query(
            """
            SELECT id, started_at, last_heartbeat, last_heartbeat > now() - make_interval(secs => \(leaseSeconds))
            FROM thalo.nodes ORDER BY id
            """, logger: logger)
        for try await (id, started, heartbeat, live) in nodeRows.decode((String, Date, Date, Bool).self) {
            nodes.append(ClusterNode(id: id, startedAt: started, lastHeartbeat: heartbeat, live: live))
        }
        var partitions: [ClusterPartition] = []
        let leaseRows = try await client.query(
            """
            SELECT category, consumer, partition, partitions, CASE WHEN expires_at > now() THEN owner END, epoch, expires_at
            FROM thalo.leases ORDER BY category, consumer, partition
            """, logger: logger)
        for try await (category, consumer, partition, count, owner, epoch, expires) in leaseRows.decode(
            (String, String, Int32, Int32, String?, Int64, Date).self)
        {
            partitions.append(
                ClusterPartition(
                    category: category, consumer: consumer, partition: Int(partition), partitions: Int(count), owner: owner,
                    epoch: epoch, expiresAt: owner == nil ? nil : expires, position: nil, lag: nil))
        }
        for index in partitions.indices {
            let partition = partitions[index]
            partitions[index].position = try await store.recordedPosition(
                in: .position(of: partition.category, consumer: partition.consumer, member: Int64(partition.partition)))
        }
        for work in Set(partitions.map { PartitionedCategory(category: $0.category, consumer: $0.consumer) }) {
            let category = work.category
            let members = partitions.indices.filter { partitions[$0].category == category && partitions[$0].consumer == work.consumer }
            let size = Int64(partitions[members[0]].partitions)
            let parts = members.map { Int64(partitions[$0].partition) }
            let positions = members.map { partitions[$0].position ?? 0 }
            let minimum = positions.min() ?? 0
            var lags: [Int64: Int64] = [:]
            let rows = try await client.query(
                """
                SELECT m.p, count(*) FROM (
                  SELECT abs(message_store.hash_64(message_store.cardinal_id(stream_name))) % \(size) AS p, global_position
                  FROM message_store.messages
                  WHERE message_store.category(stream_name) = \(category) AND global_position > \(minimum)
                ) AS m JOIN unnest(\(parts)::bigint[], \(positions)::bigint[]) AS pos(p, position) ON pos.p = m.p
                WHERE m.global_position > pos.position GROUP BY m.p
                """, logger: logger)
            for try await (partition, count) in rows.decode((Int64, Int64).self) { lags[partition] = count }
            for index in members { partitions[index].lag = lags[Int64(partitions[index].partition)] ?? 0 }
        }
        return ClusterStatus(node: nodeID, nodes: nodes, partitions: partitions)
    }

    // MARK: The node lock

    /// Opens the dedicated connection and takes this node's locks (its id's and its own
    /// key's) when either is missing, one attempt at a time.
    ///
    /// - Throws: `nodeIDInUse` when another process's session holds the id's lock.
    private func ensureLock() async throws {
        if let connection = lockConnection, !connection.isClosed, lockHeld { return }
        if let attempt = lockAttempt { return try await attempt.value }
        let attempt = Task { try await self.takeLocks() }
        lockAttempt = attempt
        defer { lockAttempt = nil }
        try await attempt.value
    }

    private func takeLocks() async throws {
        if let connection = lockConnection, connection.isClosed {
            lockConnection = nil
            lockHeld = false
        }
        if lockConnection == nil {
            nextConnectionID += 1
            let connection = try await PostgresConnection.connect(
                configuration: try store.configuration.url.connectionConfiguration(), id: nextConnectionID, logger: logger)
            // Once the lock's session is gone, peers take this node's partitions at once (a
            // database restart ends every session): hand no message over from then on, until
            // a heartbeat takes the lock again and renews what is still this node's.
            connection.closeFuture.whenComplete { [weak self] _ in self?.suspendLeases() }
            lockConnection = connection
            // The server probes the session's socket, so a session whose client is gone for
            // good ends within about 25 s rather than hours, and frees its locks.
            try await connection.query(
                """
                SELECT set_config('application_name', \(sessionName), false), set_config('tcp_keepalives_idle', '10', false),
                  set_config('tcp_keepalives_interval', '5', false), set_config('tcp_keepalives_count', '3', false)
                """, logger: logger)
        }
        guard let connection = lockConnection, !lockHeld else { return }
        if try await !takeIDLock(on: connection) {
            // Let go of everything at once, so that the node using the id sees no second one.
            lockConnection = nil
            try? await connection.close()
            throw MessageStoreError(
                .nodeIDInUse, "node id \(nodeID) is in use by a running node; give each node its own --node-id")
        }
        var attempts = 0
        while !lockHeld {
            if lockKey == 0 || attempts > 0 { lockKey = Int32.random(in: 1...Int32.max) }
            attempts += 1
            let rows = try await connection.query("SELECT pg_try_advisory_lock(\(Self.lockClass), \(lockKey))", logger: logger)
            for try await taken in rows.decode(Bool.self) { lockHeld = taken }
            if attempts >= 5 && !lockHeld {
                throw MessageStoreError(.storage, "could not take a node lock after 5 tries")
            }
        }
    }

    /// Takes the lock on the node id. When a session of this process's own holds it (one
    /// left behind by a network break), that session is ended and the lock taken after it.
    private func takeIDLock(on connection: PostgresConnection) async throws -> Bool {
        func attempt() async throws -> Bool {
            let rows = try await connection.query(
                "SELECT pg_try_advisory_lock(\(Self.nodeIDLockClass), hashtext(\(nodeID)))", logger: logger)
            var taken = false
            for try await value in rows.decode(Bool.self) { taken = value }
            return taken
        }
        if try await attempt() { return true }
        let rows = try await connection.query(
            """
            SELECT count(pg_terminate_backend(a.pid))::int4 FROM pg_catalog.pg_locks AS l
              JOIN pg_catalog.pg_stat_activity AS a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted
              AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
              AND l.classid::int8 = \(Int64(Self.nodeIDLockClass)) AND l.objid::int8 = (hashtext(\(nodeID))::int8 & 4294967295)
              AND a.application_name = \(sessionName) AND a.pid <> pg_backend_pid()
            """, logger: logger)
        var ended: Int32 = 0
        for try await count in rows.decode(Int32.self) { ended = count }
        guard ended > 0 else { return false }
        logger.notice("ended a lock session of this node's own left over from a lost connection")
        // The ended backend lets go of its locks as it exits, a moment later.
        for _ in 0..<50 {
            if try await attempt() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// Forgets the lock connection without closing it, as a network break that the close
    /// never crosses would: its session, and the locks it holds, live on. For tests.
    func abandonLockConnection() {
        if let connection = lockConnection { abandonedConnections.append(connection) }
        lockConnection = nil
        lockHeld = false
    }

    /// Whether a peer's lock is free (its session is gone); the probe lets it go at once.
    private func probe(_ key: Int32) async throws -> Bool {
        guard let connection = lockConnection else { return false }
        let rows = try await connection.query("SELECT pg_try_advisory_lock(\(Self.lockClass), \(key))", logger: logger)
        var free = false
        for try await taken in rows.decode(Bool.self) { free = taken }
        if free {
            try await connection.query("SELECT pg_advisory_unlock(\(Self.lockClass), \(key))", logger: logger)
        }
        return free
    }

    private func withTranslation<T: Sendable>(_ context: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as MessageStoreError {
            throw error
        } catch {
            if let connection = lockConnection, connection.isClosed {
                lockConnection = nil
                lockHeld = false
            }
            throw MessageDBErrors.translate(error, context: context)
        }
    }
}
