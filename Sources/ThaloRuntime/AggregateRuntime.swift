import ESDL
import Logging
import MessageStore

/// One version of one aggregate, running: its instances and their entities.
///
/// Entities are spread over the instances by a hash of their id, so an entity always lives
/// in the same instance and many entities share one; the instances run in parallel.
final class AggregateRuntime<Store: MessageStore>: Sendable {
    let module: AggregateModule
    let workers: [InstanceWorker<Store>]
    /// A separate instance for entity views (time travel), so that replaying a long
    /// history for a reader never holds up the commands of the entities in `workers`.
    let viewWorker: InstanceWorker<Store>
    let metrics: RuntimeMetrics

    init(module: AggregateModule, store: Store, configuration: RuntimeConfiguration, logger: Logger) {
        self.module = module
        let metrics = RuntimeMetrics(aggregate: module.name)
        self.metrics = metrics
        let count = configuration.instancesPerModule
        let capacity = max(1, configuration.cacheCapacity / count)
        var logger = logger
        logger[metadataKey: "module.name"] = "\(module.name)"
        logger[metadataKey: "module.version"] = "\(module.version)"
        self.workers = (0..<count).map { _ in
            InstanceWorker(module: module, store: store, configuration: configuration, capacity: capacity, metrics: metrics, logger: logger)
        }
        self.viewWorker = InstanceWorker(
            module: module, store: store, configuration: configuration, capacity: 1, metrics: metrics, logger: logger)
    }

    /// The worker that owns an entity.
    func worker(for id: String) -> InstanceWorker<Store> {
        var hash: UInt64 = 14_695_981_039_346_656_037
        for byte in id.utf8 {
            hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211
        }
        return workers[Int(hash % UInt64(workers.count))]
    }

    /// Returns once the snapshots scheduled so far are written.
    func snapshotsSettled() async {
        for worker in workers { await worker.snapshotsSettled() }
    }

    func shutdown() async {
        for worker in workers { await worker.shutdown() }
        await viewWorker.shutdown()
    }
}
