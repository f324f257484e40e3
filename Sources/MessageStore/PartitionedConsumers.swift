import Logging
import Metrics
import ServiceLifecycle

/// Runs a node's share of partitioned work: joins the cluster, then at every heartbeat
/// starts a consumer for each partition it holds, stops the ones it lost or must hand back
/// (handing those back once stopped, so their last position is recorded first, or after a
/// heartbeat interval when one is slow to stop), and on shutdown stops every consumer and
/// hands every partition back at once.
public enum PartitionedConsumers {
    /// - Parameters:
    ///   - work: what this node consumes, asked again at every heartbeat (it may grow).
    ///   - consume: consumes one partition until its task is cancelled.
    /// - Throws: only when the coordinator refuses the node: `invalidArgument`, or
    ///   `nodeIDInUse` when another running node has its id, at joining or at any heartbeat
    ///   (its consumers are stopped first, and nothing is handed back: the partitions its id
    ///   owns may be the other node's). Store failures are logged and retried.
    public static func run(
        coordinator: any PartitionCoordinator, work: @escaping @Sendable () -> [PartitionedCategory], logger: Logger,
        consume: @escaping @Sendable (PartitionLease) async -> Void
    ) async throws {
        var backoff = Backoff(minimum: .milliseconds(200), maximum: .seconds(5))
        while true {
            do {
                try await coordinator.join()
                break
            } catch let error as MessageStoreError where error.code == .invalidArgument || error.code == .nodeIDInUse {
                throw error
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { return }
                logger.warning("could not join the cluster; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: backoff.nextWait())
            }
        }
        var running: [PartitionKey: (lease: PartitionLease, task: Task<Void, Never>)] = [:]
        let failures = Counter(label: "thalo_cluster_heartbeat_failures_total")
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let assignment = try await coordinator.heartbeat(work: work())
                var wanted: [PartitionKey: PartitionLease] = [:]
                for lease in assignment.held { wanted[lease.key] = lease }
                // Consumers of lost, changed or excess partitions stop together, and the
                // wait for them is shorter than a heartbeat: waiting for each in turn kept
                // this loop from renewing the partitions still held, so they expired too.
                let stopping = running.filter { wanted[$0.key] != $0.value.lease }
                for (key, entry) in stopping {
                    entry.task.cancel()
                    running[key] = nil
                }
                await finish(stopping.values.map(\.task), within: coordinator.heartbeatInterval, logger: logger)
                if !assignment.excess.isEmpty {
                    try await coordinator.release(Array(assignment.excess))
                }
                for (key, lease) in wanted where running[key] == nil {
                    logger.debug("starting a partition's consumer", metadata: ["partition": "\(lease)"])
                    running[key] = (lease, Task { await consume(lease) })
                }
            } catch let error as MessageStoreError where error.code == .nodeIDInUse {
                for entry in running.values { entry.task.cancel() }
                await finish(running.values.map(\.task), within: coordinator.leaseDuration, logger: logger)
                throw error
            } catch {
                failures.increment()
                logger.warning("cluster heartbeat failed; consumers pause when their leases run out", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: coordinator.heartbeatInterval)
        }
        for entry in running.values { entry.task.cancel() }
        await finish(running.values.map(\.task), within: coordinator.leaseDuration, logger: logger)
        // Leaving must not run in this cancelled task: database clients drop its queries.
        await Task { await coordinator.leave() }.value
    }
}

/// Waits for cancelled consumers to end, but not for longer than `limit` in all: one stuck
/// on a dead connection is left to end by itself (its position writes are fenced, and it
/// hands no message over without its lease).
private func finish(_ tasks: [Task<Void, Never>], within limit: Duration, logger: Logger) async {
    guard !tasks.isEmpty else { return }
    do {
        try await withTimeout(limit, "stopping \(tasks.count) partition consumers") {
            for task in tasks { await task.value }
        }
    } catch {
        logger.warning("partition consumers did not stop in time; leaving them to end by themselves", metadata: ["error": "\(error)"])
    }
}

extension Subscription.Configuration {
    /// Makes the subscription consume one leased partition: it reads only the partition's
    /// streams, records its position only while the lease is held (checked by the store in
    /// the same transaction), and hands no message over while the lease may have expired.
    public mutating func lease(_ lease: PartitionLease, from coordinator: any PartitionCoordinator) {
        consumerGroup = lease.consumerGroup
        positionWriter = { message, stream in
            try await coordinator.recordPosition(message, to: stream, under: lease)
        }
        mayHandle = { coordinator.holds(lease) }
    }
}
