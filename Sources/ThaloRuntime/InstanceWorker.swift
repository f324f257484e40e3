import AggregateContract
import ESDL
import Foundation
import JSON
import Logging
import MessageStore

/// A command ready for the guest: validated, with its context and the metadata its events get.
struct PreparedCommand: Sendable {
    let commandID: UUID
    let command: String
    let payloadText: String
    let context: GuestContext
    /// JSON text of the metadata every event of this command gets.
    let eventMetadata: String
    /// The correlation stream name in `eventMetadata`, for the store's category reads.
    let correlationStreamName: String?
    /// The command's name and payload, to tell a repeated command from a reused id.
    let digest: CommandDigest
}

/// One instance of a module and the entities living in it.
///
/// The actor serialises calls into its wasm instance; a per-entity FIFO lock keeps one
/// command at a time on each entity across the awaits of reading and writing the store.
/// When the instance fails (trap, budget, malformed output) it is replaced and every
/// entity in it is rebuilt from its stream on next use; other workers are unaffected.
actor InstanceWorker<Store: MessageStore> {
    let module: AggregateModule
    let store: Store
    let configuration: RuntimeConfiguration
    let metrics: RuntimeMetrics
    let logger: Logger
    private var guest: GuestInstance?
    private(set) var generation = 0
    private(set) var cache: EntityCache
    let category: String
    /// Set when a `snapshot` call failed: no more snapshots are taken in this worker.
    var snapshotsFailed = false
    /// Batches decided so far and the commands in them.
    var batchStatistics = BatchStatistics()
    /// Snapshots scheduled and not finished yet, by entity: one at a time per entity.
    var snapshotTasks: [EntityKey: Task<Void, Never>] = [:]

    init(module: AggregateModule, store: Store, configuration: RuntimeConfiguration, capacity: Int, metrics: RuntimeMetrics, logger: Logger)
    {
        self.module = module
        self.store = store
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        self.cache = EntityCache(capacity: capacity)
        self.category = module.schema.aggregate.category
    }

    // MARK: Commands

    /// Runs a command on an entity, one at a time per entity. Commands that arrive while the
    /// entity is busy wait in its queue; with a module of contract 1.2 the next of them takes
    /// the others along and runs them as one batch (``runBatch(_:on:)``).
    func execute(entityID: String, command: PreparedCommand) async throws(RuntimeError) -> CommandOutcome {
        let record = entity(entityID)
        if case .answered(let result) = await takeTurn(on: record, command: command, alone: false) { return try result.get() }
        let queued = takeBatch(behind: record)
        // While batches are being written a command decides on top of them, as a batch of
        // its own, instead of waiting for them to be written.
        let joinsWrites = record.isWriting && batchesCommands && configuration.maximumBatchSize > 1 && configuration.pipelinesBatches
        record.lastTurnWasBatch = !queued.isEmpty || joinsWrites
        guard !queued.isEmpty || joinsWrites else {
            defer { passOn(record) }
            return try await executeAlone(command, on: record)
        }
        let results = await runBatch([command] + queued.map(\.command), on: record)
        for (waiter, result) in zip(queued, results.dropFirst()) { waiter.continuation.resume(returning: .answered(result)) }
        return try results[0].get()
    }

    /// Runs a command alone when its turn on the entity comes, behind the commands queued
    /// now: for the commands of a batch that was given up after the entity was passed on.
    func executeInTurn(entityID: String, command: PreparedCommand) async -> Result<CommandOutcome, RuntimeError> {
        let record = entity(entityID)
        _ = await takeTurn(on: record, command: command, alone: true)
        defer { passOn(record) }
        do {
            return .success(try await executeAlone(command, on: record))
        } catch {
            return .failure(error)
        }
    }

    /// Waits until the command holds the entity, or was answered in another command's batch.
    private func takeTurn(on record: EntityRecord, command: PreparedCommand, alone: Bool) async -> QueuedCommand.Turn {
        if record.locked {
            return await withCheckedContinuation { record.waiters.append(QueuedCommand(command: command, alone: alone, continuation: $0)) }
        }
        record.locked = true
        // The entity's last turn was a batch: its callers are likely sending their next
        // commands right now. Letting them queue first makes this turn a batch too,
        // instead of one write for this command alone and one for all the others. (While
        // batches are being written there is no need: whatever is decided now is written
        // in one append when they are.)
        if !alone && record.lastTurnWasBatch && !record.isWriting { await Task.yield() }
        return .holdsEntity
    }

    /// Runs one command through the ``CommandLoop``; the caller holds the entity.
    func executeAlone(_ command: PreparedCommand, on record: EntityRecord) async throws(RuntimeError) -> CommandOutcome {
        // A command alone decides on written state only.
        await settle(record)
        var loop = CommandLoop(maximumConflicts: configuration.maximumConflictRetries)
        var action = loop.start(entityIsLive: isLive(record), seen: seen(command, in: record))
        var refusal: GuestError?
        var messages: [NewMessage] = []
        while true {
            switch action {
            case .load(let rebuild):
                if rebuild { dropEntity(record) }
                let version = record.version
                let liveGeneration = record.generation
                try await load(record)
                let moved = record.version != version || record.generation != liveGeneration
                action = loop.loaded(moved: moved, seen: seen(command, in: record))
            case .handle:
                let handled = try call("handle") { guest throws(GuestFailure) in
                    try guest.handle(record.handle!, command: command.command, payload: command.payloadText, context: command.context)
                }
                switch handled {
                case .success(let events):
                    messages = try validate(events, command: command)
                    action = loop.handled(messages.isEmpty ? .noEvents : .events)
                case .failure(let error):
                    refusal = error
                    action = loop.handled(.refused)
                }
            case .append:
                let expectedVersion = ExpectedVersion(record.version)
                let written: WriteResult
                var appliedAhead = false
                do {
                    // The module may apply events before they are written (contract 1.2):
                    // on a store that takes the append now (one that chains appends), it does
                    // so while the append is in flight instead of after it.
                    if batchesCommands && isLive(record),
                        let chained = store.appendChained(messages, to: record.stream, expectedVersion: expectedVersion, after: nil)
                    {
                        appliedAhead = true
                        written = try await applyWhileWriting(messages, chained, to: record)
                    } else {
                        written = try await store.append(messages, to: record.stream, expectedVersion: expectedVersion)
                    }
                } catch let error as MessageStoreError where error.code == .wrongExpectedVersion {
                    metrics.conflicts.increment()
                    action = loop.conflicted(streamIsBehind: isBehind(record, actualVersion: error.actualVersion))
                    if let pause = loop.pauseBeforeRetry { try? await Task.sleep(for: .microseconds(Int.random(in: pause))) }
                    continue
                } catch let error as MessageStoreError where error.code == .duplicateMessageID {
                    action = loop.duplicateID()
                    continue
                } catch let error as RuntimeError {
                    // The events were written and the module could not apply them.
                    throw error
                } catch {
                    throw RuntimeError.store(error, while: "writing the events of \(command.command) to \(record.stream)")
                }
                return .recorded(try recordWritten(messages, written, command: command, in: record, applied: appliedAhead))
            case .searchStream:
                if let earlier = try await events(of: command.commandID, in: record).first {
                    record.processed[command.commandID] = earlier.metadata.flatMap(Self.commandDigest(inMetadata:))
                }
                action = loop.searched(seen: seen(command, in: record))
            case .answerDuplicate:
                metrics.duplicates.increment()
                return .duplicate(try await events(of: command.commandID, in: record))
            case .answer(.refused):
                return try outcome(for: refusal!, command: command)
            case .answer(.noEvents), .answer(.events):
                record.processed[command.commandID] = command.digest
                return .recorded([])
            case .fail(let failure):
                throw runtimeError(failure, command: command, record: record)
            }
        }
    }

    /// Applies a command's events to the live entity while the store writes them (`chained`,
    /// already in the store's hands), with their positions and no global position or time
    /// yet, as in a batch; then waits for the append.
    ///
    /// When the append fails, the entity is dropped (it applied events that are not written)
    /// and the store's error is thrown, as a plain append's would be. When the append succeeds
    /// but the module could not apply the events, the entity is dropped and that failure is
    /// thrown, as it is when `apply` fails after the append.
    func applyWhileWriting(_ messages: [NewMessage], _ chained: ChainedAppend, to record: EntityRecord) async throws -> WriteResult {
        record.appliesAhead = true
        defer { record.appliesAhead = false }
        var applyFailure: RuntimeError?
        do throws(RuntimeError) {
            let refusal = try applyAhead(unwrittenEvents(messages, from: record.version + 1, in: record), to: record.handle!)
            if let refusal { applyFailure = self.applyFailure(refusal, stream: record.stream) }
        } catch {
            applyFailure = error
        }
        let written: WriteResult
        do {
            written = try await chained.value()
        } catch {
            dropEntity(record)
            throw error
        }
        if let applyFailure {
            dropEntity(record)
            metrics.eventsWritten.increment(by: Int64(messages.count))
            throw applyFailure
        }
        return written
    }

    /// Events decided and not written yet as the entity applies them: at the positions they
    /// will have from `firstPosition`, without global position or time.
    func unwrittenEvents(_ messages: [NewMessage], from firstPosition: Int64, in record: EntityRecord) -> [RecordedEvent] {
        messages.enumerated().map { index, message in
            RecordedEvent(
                id: message.id, type: message.type, data: message.data, metadata: message.metadata, streamName: record.stream,
                position: firstPosition + Int64(index), globalPosition: -1, time: Timestamp(microsecondsSinceEpoch: -1))
        }
    }

    /// Applies events not written yet to a live entity (contract 1.2), in chunks; returns the
    /// module's refusal, if it refused one.
    func applyAhead(_ events: [RecordedEvent], to handle: UInt32) throws(RuntimeError) -> GuestError? {
        for chunk in Self.applyChunks(events, limits: module.limits) {
            let refused = try call("apply") { guest throws(GuestFailure) in try guest.apply(handle, events: chunk.map(Self.guestEvent)) }
            if let refused { return refused }
        }
        return nil
    }

    /// Whether the stream is shorter than what the entity applied: the database lost its last
    /// commits (a restore, or a crash without synchronous commits), so the entity is rebuilt
    /// from what the stream holds instead of catching up.
    func isBehind(_ record: EntityRecord, actualVersion: Int64?) -> Bool {
        guard let actualVersion, actualVersion < record.version else { return false }
        logger.warning(
            "the stream is behind the live entity; rebuilding it",
            metadata: ["stream": "\(record.stream)", "live.version": "\(record.version)", "stream.version": "\(actualVersion)"])
        return true
    }

    /// Whether the entity has processed the command's id, and for the same command.
    func seen(_ command: PreparedCommand, in record: EntityRecord) -> CommandLoop.Seen {
        guard let digest = record.processed[command.commandID] else { return .notSeen }
        return digest == nil || digest == command.digest ? .sameCommand : .otherCommand
    }

    /// The events just appended as recorded events, applied to the entity when it is live
    /// (unless it `applied` them already, while they were written).
    private func recordWritten(
        _ messages: [NewMessage], _ written: WriteResult, command: PreparedCommand, in record: EntityRecord, applied: Bool
    ) throws(RuntimeError) -> [RecordedEvent] {
        let recorded = RecordedEvent.written(messages, written, to: record.stream)
        if isLive(record) {
            if applied {
                recordApplied(recorded[...], to: record, commandsKnown: true)
            } else {
                try applyRecorded(recorded, to: record, commandsKnown: true)
            }
            record.processed[command.commandID] = command.digest
            snapshotIfDue(record)
        } else {
            // The instance was replaced while the append was in flight (another command
            // broke it, or a new version was published): the handle belongs to the old
            // instance, and in the new one it may name another entity. The events are
            // written; the entity is rebuilt from its stream on next use.
            record.handle = nil
        }
        metrics.eventsWritten.increment(by: Int64(recorded.count))
        return recorded
    }

    /// The entity's state at a point of its history, computed on a fresh guest entity.
    func view(entityID: String, stream: StreamName, at point: HistoryPoint) async throws(RuntimeError) -> EntityView {
        try rebuild(entityID: entityID, stream: stream, events: try await readEvents(of: stream, until: point))
    }

    /// What replaying a stream under this module gave, for the deploy check.
    enum ReplayOutcome: Sendable {
        /// Every event applied; the state view and how many events there were.
        case replayed(state: JSONValue?, events: Int)
        /// The event at `position` could not be applied (or the state view failed after the
        /// last one).
        case failed(position: Int64, reason: String)
    }

    /// Replays a whole stream on a fresh entity and reports the first event that fails.
    func replay(entityID: String, stream: StreamName) async throws(RuntimeError) -> ReplayOutcome {
        let events = try await readEvents(of: stream, until: .latest)
        do {
            let view = try rebuild(entityID: entityID, stream: stream, events: events)
            return .replayed(state: view.state, events: events.count)
        } catch let failure where failure.code == .moduleFailure {
            // Find the event: one `apply` call per event, on a fresh entity. A trap or a budget
            // overrun names its event too.
            do throws(RuntimeError) {
                return try withFreshEntity(entityID) { handle throws(RuntimeError) -> ReplayOutcome in
                    for event in events {
                        do throws(RuntimeError) {
                            let refused = try call("apply") { guest throws(GuestFailure) in
                                try guest.apply(handle, events: [Self.guestEvent(event)])
                            }
                            if let refused {
                                return .failed(position: event.position, reason: applyFailure(refused, stream: stream).message)
                            }
                        } catch {
                            return .failed(position: event.position, reason: error.message)
                        }
                    }
                    return .failed(position: events.last?.position ?? -1, reason: failure.message)
                }
            } catch {
                return .failed(position: -1, reason: error.message)
            }
        }
    }

    /// The events of a stream up to a point of its history.
    private func readEvents(of stream: StreamName, until point: HistoryPoint) async throws(RuntimeError) -> [RecordedEvent] {
        var events: [RecordedEvent] = []
        do {
            var position: Int64 = 0
            reading: while true {
                let batch = try await store.readStream(stream, from: position, batchSize: configuration.replayBatchSize, condition: nil)
                for message in batch {
                    if point.isPast(message.position, time: message.time) { break reading }
                    events.append(RecordedEvent(message))
                }
                guard let last = batch.last, batch.count == configuration.replayBatchSize else { break }
                position = last.position + 1
            }
        } catch {
            throw RuntimeError.store(error, while: "reading \(stream)")
        }
        return events
    }

    /// A fresh entity with `events` applied, its state view, and then dropped.
    private func rebuild(entityID: String, stream: StreamName, events: [RecordedEvent]) throws(RuntimeError) -> EntityView {
        try withFreshEntity(entityID) { handle throws(RuntimeError) in try rebuild(handle, stream: stream, events: events) }
    }

    /// Runs `body` with a new guest entity, dropped afterwards unless its instance was replaced.
    private func withFreshEntity<T>(_ entityID: String, _ body: (UInt32) throws(RuntimeError) -> T) throws(RuntimeError) -> T {
        let handle = try call("new-entity") { guest throws(GuestFailure) in try guest.newEntity(id: entityID) }
        let owner = generation
        defer {
            if owner == generation, let guest, !guest.isPoisoned { try? guest.dropEntity(handle) }
        }
        return try body(handle)
    }

    private func rebuild(_ handle: UInt32, stream: StreamName, events: [RecordedEvent]) throws(RuntimeError) -> EntityView {
        for chunk in Self.applyChunks(events, limits: module.limits) {
            let failure = try call("apply") { guest throws(GuestFailure) in
                try guest.apply(handle, events: chunk.map(Self.guestEvent))
            }
            if let failure { throw applyFailure(failure, stream: stream) }
        }
        let appliedBytes = events.reduce(0) { $0 + $1.data.utf8.count }
        let stateText = try call("state") { guest throws(GuestFailure) in try guest.state(handle, appliedBytes: appliedBytes) }
        var state: JSONValue?
        if let stateText {
            do {
                state = try JSONValue(parsing: stateText)
            } catch {
                throw RuntimeError(
                    .moduleFailure, "module \(module.label) returned a state that is not JSON: \(error)", aggregate: module.name,
                    moduleVersion: module.version.description)
            }
        }
        return EntityView(
            aggregate: module.name, streamName: stream, events: events, version: events.last?.position ?? -1, state: state,
            moduleVersion: module.version.description)
    }

    /// How many entities are live, for metrics and tests.
    var liveEntities: Int { cache.count }

    /// Bytes of guest memory, for the memory benchmark.
    var guestMemoryBytes: Int { guest?.memoryBytes ?? 0 }

    /// Drops every entity and the instance (on upgrade or shutdown).
    func shutdown() {
        _ = cache.removeAll()
        guest = nil
        // Commands still in flight hold handles of the dropped instance: a new generation
        // makes them rebuild instead of using those handles in a new instance.
        generation += 1
    }

    // MARK: Entities

    private func entity(_ id: String) -> EntityRecord {
        if let record = cache.get(id) {
            metrics.cacheHits.increment()
            return record
        }
        metrics.cacheMisses.increment()
        let record = EntityRecord(id: id, stream: StreamName(category: category, id: id))
        cache.insert(record)
        for evicted in cache.evictOverflow() {
            metrics.evictions.increment()
            if evicted.generation == generation, let handle = evicted.handle, let guest, !guest.isPoisoned {
                do {
                    try guest.dropEntity(handle)
                } catch {
                    replaceGuest(after: error)
                }
            }
        }
        return record
    }

    /// Hands the entity to the first waiting command, or frees it.
    func passOn(_ record: EntityRecord) {
        if record.waiters.isEmpty {
            record.locked = false
        } else {
            record.waiters.removeFirst().continuation.resume(returning: .holdsEntity)
        }
    }

    /// Drops the entity from the instance, so that its next use rebuilds it from its stream.
    func dropEntity(_ record: EntityRecord) {
        if isLive(record), let handle = record.handle, let guest, !guest.isPoisoned { try? guest.dropEntity(handle) }
        record.handle = nil
    }

    /// Whether the module lets `apply` run on events before they are written (contract 1.2),
    /// so that commands queued for one entity can run as a batch. Known once the instance
    /// has started.
    var batchesCommands: Bool { guest?.appliesUnwrittenEvents ?? false }

    /// Whether the entity has been loaded in the current instance.
    func isLive(_ record: EntityRecord) -> Bool {
        record.handle != nil && record.generation == generation
    }

    /// Makes sure the entity exists in the current instance and has applied its whole stream.
    func load(_ record: EntityRecord) async throws(RuntimeError) {
        if record.handle == nil || record.generation != generation {
            if try await !restoreSnapshot(of: record) {
                let id = record.id
                let handle = try call("new-entity") { guest throws(GuestFailure) in try guest.newEntity(id: id) }
                record.reset(handle: handle, generation: generation)
            }
        }
        try await catchUp(record)
        snapshotIfDue(record)
    }

    /// Applies the events written after the entity's version.
    private func catchUp(_ record: EntityRecord) async throws(RuntimeError) {
        while true {
            let batch: [Message]
            do {
                batch = try await store.readStream(
                    record.stream, from: record.version + 1, batchSize: configuration.replayBatchSize, condition: nil)
            } catch {
                throw RuntimeError.store(error, while: "reading \(record.stream)")
            }
            // The instance may have been replaced while we were reading: start over in the new one.
            if record.generation != generation || record.handle == nil {
                return try await load(record)
            }
            guard !batch.isEmpty else { return }
            try applyRecorded(batch.map(RecordedEvent.init), to: record)
            metrics.replayedEvents.increment(by: Int64(batch.count))
            if batch.count < configuration.replayBatchSize { return }
        }
    }

    func applyRecorded(_ events: [RecordedEvent], to record: EntityRecord, commandsKnown: Bool = false) throws(RuntimeError) {
        guard let handle = record.handle else { return }
        for chunk in Self.applyChunks(events, limits: module.limits) {
            let failure = try call("apply") { guest throws(GuestFailure) in try guest.apply(handle, events: chunk.map(Self.guestEvent)) }
            if let failure {
                record.handle = nil
                throw applyFailure(failure, stream: record.stream)
            }
            recordApplied(chunk, to: record, commandsKnown: commandsKnown)
        }
    }

    /// Splits events into `apply` calls of at most ``ModuleLimits/maximumApplyBytes`` of
    /// strings each (always at least one event per call), so that whatever could be written
    /// one event at a time can be replayed, whatever the sizes of its events.
    static func applyChunks(_ events: [RecordedEvent], limits: ModuleLimits) -> [ArraySlice<RecordedEvent>] {
        var chunks: [ArraySlice<RecordedEvent>] = []
        var start = events.startIndex
        var bytes = 0
        for index in events.indices {
            let event = events[index]
            let size =
                event.type.utf8.count + event.data.utf8.count + (event.metadata?.utf8.count ?? 0)
                + event.streamName.rawValue.utf8.count + 36 + ModuleContract.recordedEventSize
            if index > start && bytes + size > limits.maximumApplyBytes {
                chunks.append(events[start..<index])
                start = index
                bytes = 0
            }
            bytes += size
        }
        if start < events.endIndex { chunks.append(events[start...]) }
        return chunks
    }

    /// Moves the entity's bookkeeping past events it applied. The command ids in their
    /// metadata count as processed, unless `commandsKnown`: the caller wrote the events for
    /// a command it records itself, and the metadata need not be searched.
    func recordApplied(_ events: ArraySlice<RecordedEvent>, to record: EntityRecord, commandsKnown: Bool = false) {
        for event in events {
            record.version = event.position
            record.lastEventID = event.id
            record.appliedBytes += event.data.utf8.count
            if !commandsKnown { recordCommand(of: event.metadata, in: record) }
        }
    }

    /// Notes the command id (and digest) of an event's metadata as processed by the entity.
    func recordCommand(of metadata: String?, in record: EntityRecord) {
        if let metadata, let commandID = Self.commandID(inMetadata: metadata) {
            record.processed[commandID] = Self.commandDigest(inMetadata: metadata)
        }
    }

    func applyFailure(_ failure: GuestError, stream: StreamName) -> RuntimeError {
        let reason: String
        switch failure {
        case .command(let message), .deserializeCommand(let message): reason = message
        case .deserializeEvent(let message): reason = "an event could not be read: \(message)"
        case .unknownEvent: reason = "the module does not know an event type in the stream"
        case .unknownCommand: reason = "unknown command"
        case .ignore(let message): reason = message ?? "ignored"
        }
        return RuntimeError(
            .moduleFailure, "module \(module.label) could not apply the events of \(stream): \(reason)",
            aggregate: module.name, moduleVersion: module.version.description)
    }

    /// The events a command id wrote, read back from the stream.
    func events(of commandID: UUID, in record: EntityRecord) async throws(RuntimeError) -> [RecordedEvent] {
        do {
            return try await store.readWholeStream(record.stream).filter { message in
                message.metadata.flatMap(Self.commandID(inMetadata:)) == commandID
            }.map(RecordedEvent.init)
        } catch {
            throw RuntimeError.store(error, while: "reading \(record.stream)")
        }
    }

    // MARK: Guest calls

    /// Runs a guest call; when the instance fails, replaces it and reports the failure.
    func call<T>(_ export: String, _ body: (GuestInstance) throws(GuestFailure) -> T) throws(RuntimeError) -> T {
        let guest: GuestInstance
        if let current = self.guest {
            guest = current
        } else {
            guest = try GuestInstance(module: module)
            self.guest = guest
        }
        do {
            return try body(guest)
        } catch {
            replaceGuest(after: error)
            throw RuntimeError(
                .moduleFailure, "module \(module.label) failed in \(error.export): \(error.reason)", aggregate: module.name,
                moduleVersion: module.version.description)
        }
    }

    private func replaceGuest(after error: GuestFailure) {
        logger.error(
            "module instance failed; replacing it, its entities will be rebuilt from their streams",
            metadata: ["module.name": "\(module.name)", "module.version": "\(module.version)", "error": "\(error)"])
        metrics.instanceRestarts.increment()
        guest = nil
        generation += 1
    }

    func outcome(for error: GuestError, command: PreparedCommand) throws(RuntimeError) -> CommandOutcome {
        switch error {
        case .ignore(let reason):
            metrics.ignored.increment()
            return .ignored(reason: reason)
        case .command(let message):
            metrics.rejected.increment()
            throw RuntimeError(.rejected, message, aggregate: module.name, moduleVersion: module.version.description)
        case .deserializeCommand(let message):
            throw RuntimeError(
                .invalidPayload, "module \(module.label) could not read the \(command.command) payload: \(message)",
                aggregate: module.name, moduleVersion: module.version.description)
        case .unknownCommand:
            throw RuntimeError(
                .unknownCommand, "module \(module.label) has no handler for \(command.command)", aggregate: module.name,
                moduleVersion: module.version.description)
        case .deserializeEvent(let message):
            throw RuntimeError(
                .moduleFailure, "module \(module.label) could not read an event: \(message)", aggregate: module.name,
                moduleVersion: module.version.description)
        case .unknownEvent:
            throw RuntimeError(
                .moduleFailure, "module \(module.label) met an event type it does not know", aggregate: module.name,
                moduleVersion: module.version.description)
        }
    }

    /// Checks the events against the ESDL schema and turns them into messages.
    func validate(_ events: [GuestEvent], command: PreparedCommand) throws(RuntimeError) -> [NewMessage] {
        let problems = module.schema.problems(returnedBy: command.command, events: events)
        guard problems.isEmpty else {
            throw RuntimeError(
                .invalidEvents,
                "module \(module.label) returned events that do not match its schema: "
                    + problems.map(\.description).joined(separator: "; "),
                aggregate: module.name, moduleVersion: module.version.description, payloadErrors: problems)
        }
        // The payloads parsed as JSON objects above and the metadata is Thalo's own: the
        // store need not parse them again.
        let checked = CheckedJSON(correlationStreamName: command.correlationStreamName)
        return events.enumerated().map { index, event in
            var message = NewMessage(
                id: UUID.derived(from: command.commandID, index: index), type: event.type, data: event.payload,
                metadata: command.eventMetadata)
            message.checkedJSON = checked
            return message
        }
    }

    static func guestEvent(_ event: RecordedEvent) -> GuestRecordedEvent {
        GuestRecordedEvent(
            type: event.type, payload: event.data,
            context: GuestContext(
                id: event.id.lowercasedText, streamName: event.streamName.rawValue, position: event.position,
                globalPosition: event.globalPosition, metadata: event.metadata ?? "{}", time: event.time.microsecondsSinceEpoch))
    }

    /// The `commandId` Thalo puts in event metadata, found without parsing the whole object.
    static func commandID(inMetadata metadata: String) -> UUID? {
        stringValue(of: commandIDMetadataKey, length: 36, inMetadata: metadata).flatMap { UUID(canonicalText: $0) }
    }

    /// The `commandDigest` Thalo puts in event metadata (absent in events of older versions).
    static func commandDigest(inMetadata metadata: String) -> CommandDigest? {
        stringValue(of: commandDigestMetadataKey, length: 16, inMetadata: metadata).flatMap { CommandDigest(text: $0) }
    }

    /// The string of exactly `length` bytes that follows `"key":` in JSON object text, found
    /// by scanning bytes: replaying an entity reads this per event, and parsing the whole
    /// metadata object costs several times more.
    private static func stringValue(of key: [UInt8], length: Int, inMetadata metadata: String) -> String? {
        var metadata = metadata
        return metadata.withUTF8 { bytes -> String? in
            var start = 0
            while start + key.count <= bytes.count {
                var matches = true
                for offset in 0..<key.count where bytes[start + offset] != key[offset] {
                    matches = false
                    break
                }
                if matches {
                    var cursor = start + key.count
                    while cursor < bytes.count, bytes[cursor] == UInt8(ascii: " ") { cursor += 1 }
                    if cursor < bytes.count, bytes[cursor] == UInt8(ascii: ":") {
                        cursor += 1
                        while cursor < bytes.count, bytes[cursor] == UInt8(ascii: " ") { cursor += 1 }
                        guard cursor + length + 1 < bytes.count, bytes[cursor] == UInt8(ascii: "\""),
                            bytes[cursor + length + 1] == UInt8(ascii: "\"")
                        else { return nil }
                        return String(decoding: UnsafeBufferPointer(rebasing: bytes[(cursor + 1)..<(cursor + 1 + length)]), as: UTF8.self)
                    }
                }
                start += 1
            }
            return nil
        }
    }

    /// The error a command loop failed with.
    private func runtimeError(_ failure: CommandLoop.Failure, command: PreparedCommand, record: EntityRecord) -> RuntimeError {
        let id = command.commandID.lowercasedText
        switch failure {
        case .keyReusedOnEntity:
            return RuntimeError(
                .idempotencyKeyReused,
                "command id \(id) was already used on \(record.stream) for a different command or payload; "
                    + "use a new id for a different command",
                aggregate: module.name, moduleVersion: module.version.description)
        case .keyUsedElsewhere:
            return RuntimeError(
                .idempotencyKeyReused,
                "command id \(id) was already used for another entity or aggregate; use a new id for a different command",
                aggregate: module.name)
        case .keptChanging(let attempts):
            return RuntimeError(
                .conflict, "\(record.stream) kept changing while handling \(command.command) (\(attempts) attempts); try again",
                aggregate: module.name, moduleVersion: module.version.description)
        }
    }
}

/// The metadata key ``InstanceWorker/commandID(inMetadata:)`` looks for, as UTF-8.
private let commandIDMetadataKey = Array(#""commandId""#.utf8)
/// The metadata key ``InstanceWorker/commandDigest(inMetadata:)`` looks for, as UTF-8.
private let commandDigestMetadataKey = Array(#""commandDigest""#.utf8)
