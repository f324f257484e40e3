import Foundation
import JSON
import MessageStore
import Metrics
import ServiceLifecycle

extension Runtime {
    /// A cluster node's loop: joins, then every heartbeat consumes the partitions it holds,
    /// stops the ones it lost or must hand back (handing those back once stopped), and on
    /// shutdown stops every consumer, then hands every partition back at once.
    func runClusterNode(_ coordinator: any PartitionCoordinator) async throws {
        var backoff = Backoff(minimum: .milliseconds(200), maximum: .seconds(5))
        while true {
            do {
                try await coordinator.join()
                break
            } catch let error as MessageStoreError where error.code == .invalidArgument {
                throw error  // another node runs under this name: the server stops with the message
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { return }
                logger.warning("could not join the cluster; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: backoff.nextWait())
            }
        }
        var running: [PartitionKey: (lease: PartitionLease, task: Task<Void, Never>)] = [:]
        let failures = Counter(label: "thalo_cluster_heartbeat_failures_total")
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let categories = commandCategories.withLock { Array($0).sorted() }
            do {
                let assignment = try await coordinator.heartbeat(categories: categories)
                var wanted: [PartitionKey: PartitionLease] = [:]
                for lease in assignment.held { wanted[lease.key] = lease }
                for (key, entry) in running where wanted[key] != entry.lease {
                    entry.task.cancel()
                    await entry.task.value
                    running[key] = nil
                }
                if !assignment.excess.isEmpty {
                    try await coordinator.release(Array(assignment.excess))
                }
                for (key, lease) in wanted where running[key] == nil {
                    running[key] = (lease, Task { await self.keepConsumingCommands(category: lease.category, lease: lease) })
                }
            } catch {
                failures.increment()
                logger.warning("cluster heartbeat failed; consumers pause when their leases run out", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: coordinator.heartbeatInterval)
        }
        for entry in running.values { entry.task.cancel() }
        for entry in running.values { await entry.task.value }
        // Leaving must not run in this cancelled task: database clients drop its queries.
        await Task { await coordinator.leave() }.value
    }

    /// Where a partition's consumer starts when it has no position of its own: after the
    /// position the undivided consumer recorded, if it ran before the category was divided.
    func undividedStart(category: String) async throws -> Int64 {
        let base = StreamName(unchecked: category)
        let stream = StreamName(category: base.entityName, id: configuration.consumerName, types: base.categoryTypes + ["position"])
        guard let last = try await store.lastMessage(in: stream, type: "Recorded"),
            let position = try last.dataJSON()["position"]?.integerValue, position >= 0, position < Int64.max
        else { return 1 }
        return position + 1
    }

    /// The nodes sharing the work and who consumes what, with each consumer's position and lag.
    /// A runtime without a coordinator is a cluster of one that consumes each command category whole.
    public func clusterStatus() async throws(RuntimeError) -> ClusterStatus {
        do {
            if let coordinator {
                return try await coordinator.status(consumer: configuration.consumerName)
            }
            let now = Date()
            let node = ClusterNode(id: configuration.nodeID, startedAt: startedAt, lastHeartbeat: now, live: true)
            var partitions: [ClusterPartition] = []
            for category in commandCategories.withLock({ Array($0).sorted() }) {
                let base = StreamName(unchecked: category)
                let stream = StreamName(
                    category: base.entityName, id: configuration.consumerName, types: base.categoryTypes + ["position"])
                let position = try await store.lastMessage(in: stream, type: "Recorded").flatMap { try $0.dataJSON()["position"]?.integerValue }
                var lag: Int64 = 0
                var next = (position ?? 0) + 1
                while true {
                    let batch = try await store.readCategory(
                        category, from: next, batchSize: 1_000, correlation: nil, consumerGroup: nil, condition: nil)
                    lag += Int64(batch.count)
                    guard let last = batch.last, batch.count == 1_000 else { break }
                    next = last.globalPosition + 1
                }
                partitions.append(
                    ClusterPartition(
                        category: category, partition: 0, partitions: 1, owner: configuration.consumesCommands ? configuration.nodeID : nil,
                        epoch: 0, expiresAt: nil, position: position, lag: lag))
            }
            return ClusterStatus(node: configuration.nodeID, nodes: [node], partitions: partitions)
        } catch let error as RuntimeError {
            throw error
        } catch {
            throw RuntimeError.store(error, while: "reading the cluster status")
        }
    }
}
