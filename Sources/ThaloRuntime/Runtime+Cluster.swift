import Foundation
import JSON
import MessageStore
import Metrics
import ServiceLifecycle

extension Runtime {
    /// Where a partition's consumer starts when it has no position of its own: after the
    /// position the undivided consumer recorded, if it ran before the category was divided.
    func undividedStart(category: String) async throws -> Int64 {
        let stream = StreamName.position(of: category, consumer: configuration.consumerName)
        guard let position = try await store.recordedPosition(in: stream), position >= 0, position < Int64.max else { return 1 }
        return position + 1
    }

    /// The nodes sharing the work and who consumes what, with each consumer's position and lag.
    /// A runtime without a coordinator is a cluster of one that consumes each command category whole.
    public func clusterStatus() async throws(RuntimeError) -> ClusterStatus {
        do {
            if let coordinator {
                return try await coordinator.status()
            }
            let now = Date()
            let node = ClusterNode(id: configuration.nodeID, startedAt: startedAt, lastHeartbeat: now, live: true)
            var partitions: [ClusterPartition] = []
            for category in commandCategories.withLock({ Array($0).sorted() }) {
                let position = try await store.recordedPosition(in: .position(of: category, consumer: configuration.consumerName))
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
                        category: category, consumer: configuration.consumerName, partition: 0, partitions: 1,
                        owner: configuration.consumesCommands ? configuration.nodeID : nil,
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
