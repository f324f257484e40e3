import Metrics

/// The runtime's metrics for one aggregate, created once and reused on the hot path.
///
/// Names follow Prometheus conventions; the server exports them at `/metrics`.
struct RuntimeMetrics: Sendable {
    let handled: Counter
    let rejected: Counter
    let ignored: Counter
    let duplicates: Counter
    let failed: Counter
    let conflicts: Counter
    let eventsWritten: Counter
    let cacheHits: Counter
    let cacheMisses: Counter
    let evictions: Counter
    let instanceRestarts: Counter
    let latency: Timer
    let replayedEvents: Counter
    let snapshotsWritten: Counter
    let snapshotsRestored: Counter
    /// Commands decided in a batch with others (contract 1.2).
    let batchedCommands: Counter

    init(aggregate: String) {
        let dimensions = [("aggregate", aggregate)]
        handled = Counter(label: "thalo_commands_handled_total", dimensions: dimensions)
        rejected = Counter(label: "thalo_commands_rejected_total", dimensions: dimensions)
        ignored = Counter(label: "thalo_commands_ignored_total", dimensions: dimensions)
        duplicates = Counter(label: "thalo_commands_duplicate_total", dimensions: dimensions)
        failed = Counter(label: "thalo_commands_failed_total", dimensions: dimensions)
        conflicts = Counter(label: "thalo_command_conflicts_total", dimensions: dimensions)
        eventsWritten = Counter(label: "thalo_events_written_total", dimensions: dimensions)
        cacheHits = Counter(label: "thalo_entity_cache_hits_total", dimensions: dimensions)
        cacheMisses = Counter(label: "thalo_entity_cache_misses_total", dimensions: dimensions)
        evictions = Counter(label: "thalo_entity_evictions_total", dimensions: dimensions)
        instanceRestarts = Counter(label: "thalo_module_instance_restarts_total", dimensions: dimensions)
        latency = Timer(label: "thalo_command_duration_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds)
        replayedEvents = Counter(label: "thalo_events_replayed_total", dimensions: dimensions)
        snapshotsWritten = Counter(label: "thalo_snapshots_written_total", dimensions: dimensions)
        snapshotsRestored = Counter(label: "thalo_snapshots_restored_total", dimensions: dimensions)
        batchedCommands = Counter(label: "thalo_commands_batched_total", dimensions: dimensions)
    }
}

/// Batches of commands decided together (contract 1.2), for benchmarks and diagnostics.
public struct BatchStatistics: Sendable, Hashable {
    /// Batches whose decisions stood (written in one append, or nothing to write).
    public var batches = 0
    /// Commands decided in those batches.
    public var commands = 0
    /// Appends that wrote the events of batches (one append may write several batches
    /// decided while the one before it was being written).
    public var appends = 0
    /// Appends after which the writer started the next one at once: batches had been
    /// decided and queued while it was in flight.
    public var followedAppends = 0

    public init() {}
}

extension Timer {
    /// Records the time elapsed since `start`.
    func record(since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }
}
