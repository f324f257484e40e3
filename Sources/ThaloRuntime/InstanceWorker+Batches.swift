import Foundation
import MessageStore
import Synchronization

/// Batches (contract 1.2, docs/module-contract.md): commands queued behind a busy entity run
/// back to back on its in-memory state, and the events of all of them go out in one append
/// with one expected version. A hot entity then costs one write per batch instead of one
/// per command.
///
/// Batches are pipelined: once a batch is decided and queued for writing, the entity passes
/// to the commands queued next, which are decided as the next batch on top of the unwritten
/// events while the first is written. Each entity has one writer, off the actor. On a store
/// that chains appends (the embedded one), each batch's append is handed to the store when
/// the batch is decided, chained after the previous one, and the store writes it only if
/// that one was written. On other stores the writer appends the batches queued while its
/// last append was in flight in one append, expecting the version the first of them started
/// from, and only once that last append was written. When an append fails, every batch
/// queued behind it is given up unwritten too (they were decided on its events), the entity
/// is dropped, and their commands run again alone.
extension InstanceWorker {
    /// The queued commands that join the batch of the command now holding the entity: all of
    /// them, up to ``RuntimeConfiguration/maximumBatchSize``, when the module allows batches;
    /// none otherwise (they then wait for their own turn). A command that must run alone
    /// ends the batch before it.
    func takeBatch(behind record: EntityRecord) -> [QueuedCommand] {
        guard configuration.maximumBatchSize > 1, !record.waiters.isEmpty, batchesCommands else { return [] }
        let joining = record.waiters.prefix(configuration.maximumBatchSize - 1).prefix { !$0.alone }
        let count = joining.count
        let taken = Array(record.waiters.prefix(count))
        record.waiters.removeFirst(count)
        return taken
    }

    /// How many commands wait for an entity (for tests).
    func queuedCommands(entityID: String) -> Int {
        cache.peek(entityID)?.waiters.count ?? 0
    }

    /// How many events an entity has applied that are not written yet (for tests).
    func unwrittenEvents(entityID: String) -> Int64 {
        cache.peek(entityID)?.unwrittenEvents ?? 0
    }

    /// Runs the commands in order on the entity (the caller holds it and this passes it on)
    /// and gives each its outcome.
    ///
    /// Each handler sees the state after the events of the commands before it, applied
    /// before they are written; then every event of the batch is appended at once,
    /// expecting the version the batch started from, so that the decisions stand together
    /// or not at all. The entity is passed on as soon as the batch is queued for writing (see
    /// the type's comment; with ``RuntimeConfiguration/pipelinesBatches`` off, once it is
    /// written); the outcomes are given once it is written. When anything goes wrong
    /// on the way (a conflict, a failed call, a store error, an event the module cannot
    /// apply) the entity is dropped and every command runs again alone in its turn, as if
    /// there had been no batch: batching changes how fast commands run, never what they
    /// decide.
    func runBatch(_ commands: [PreparedCommand], on record: EntityRecord) async -> [Result<CommandOutcome, RuntimeError>] {
        var results = [Result<CommandOutcome, RuntimeError>?](repeating: nil, count: commands.count)
        let attempt: BatchAttempt
        do {
            attempt = try await attemptBatch(commands, on: record)
        } catch {
            attempt = .runAlone(dropEntity: true)
        }
        var decided: (decisions: [Decision], recorded: [RecordedEvent])?
        switch attempt {
        case .runAlone(let drop):
            if drop { dropEntity(record) }
            passOn(record)
        case .decided(let decisions):
            passOn(record)
            decided = (decisions, [])
        case .writing(let decisions, let write):
            if configuration.pipelinesBatches { passOn(record) }
            let recorded = await outcome(of: write)
            if !configuration.pipelinesBatches { passOn(record) }
            if let recorded { decided = (decisions, recorded) }
        }
        if let (decisions, recorded) = decided {
            metrics.batchedCommands.increment(by: Int64(commands.count))
            batchStatistics.batches += 1
            batchStatistics.commands += commands.count
            for (index, decision) in decisions.enumerated() {
                switch decision {
                case .events(let range): results[index] = .success(.recorded(Array(recorded[range])))
                case .noEvents: results[index] = .success(.recorded([]))
                case .refused(let error):
                    do {
                        results[index] = .success(try outcome(for: error, command: commands[index]))
                    } catch {
                        results[index] = .failure(error)
                    }
                case .alone: break
                }
            }
        }
        // What the batch did not decide runs alone, in order, each in its turn.
        for index in commands.indices where results[index] == nil {
            results[index] = await executeInTurn(entityID: record.id, command: commands[index])
        }
        return results.map { $0! }
    }

    /// What a command of a batch decided.
    private enum Decision {
        /// It returned events: these of the batch's events.
        case events(Range<Int>)
        /// It accepted the command and returned no events.
        case noEvents
        /// It rejected or ignored the command.
        case refused(GuestError)
        /// It runs alone after the batch (its command id was seen before, or earlier in the
        /// batch, or in a batch being written).
        case alone
    }

    private enum BatchAttempt {
        /// Nothing is written and the decisions stand.
        case decided([Decision])
        /// The entity applied the batch's events and queued them for writing: the decisions
        /// stand when they are written.
        case writing([Decision], QueuedWrite)
        /// The batch is given up before anything was written; every command runs alone, after
        /// dropping the entity when it applied events that will not be written.
        case runAlone(dropEntity: Bool)
    }

    private func attemptBatch(_ commands: [PreparedCommand], on record: EntityRecord) async throws(RuntimeError) -> BatchAttempt {
        var readStream = false
        if !isLive(record) {
            // Batches still being written settle before the entity is rebuilt.
            await settle(record)
            try await load(record)
            readStream = true
        }
        // Earlier batches may be in flight: this one decides on top of their events.
        let start = record.version + record.unwrittenEvents
        var decisions: [Decision] = []
        var messages: [NewMessage] = []
        var idsInBatch = Set<UUID>()
        for command in commands {
            guard seen(command, in: record) == .notSeen, !record.isDecidedUnwritten(command.commandID),
                idsInBatch.insert(command.commandID).inserted
            else {
                decisions.append(.alone)
                continue
            }
            let handle = record.handle!
            let handled = try call("handle") { guest throws(GuestFailure) in
                try guest.handle(handle, command: command.command, payload: command.payloadText, context: command.context)
            }
            let events: [GuestEvent]
            switch handled {
            case .failure(let error):
                decisions.append(.refused(error))
                continue
            case .success(let returned):
                events = returned
            }
            let new = try validate(events, command: command)
            guard !new.isEmpty else {
                decisions.append(.noEvents)
                continue
            }
            // The next handler decides on the state after these events: apply them now, with
            // the positions they will have and no global position or time yet.
            let unwritten = unwrittenEvents(new, from: start + 1 + Int64(messages.count), in: record)
            if try applyAhead(unwritten, to: handle) != nil { return .runAlone(dropEntity: true) }
            decisions.append(.events(messages.count..<(messages.count + new.count)))
            messages += new
        }
        guard !messages.isEmpty else {
            // Nothing to write, so no expected version vouches for the decisions: they stand
            // only once the batches they were decided on are written, and, as for a command
            // alone, the entity catches up once and the batch stands only if the stream had
            // not moved.
            if record.isWriting {
                await settle(record)
                // One of them was not written (and the entity was dropped), or the instance
                // was replaced meanwhile.
                guard isLive(record) else { return .runAlone(dropEntity: false) }
                readStream = false
            }
            if !readStream {
                let version = record.version
                let generation = record.generation
                try await load(record)
                if record.version != version || record.generation != generation { return .runAlone(dropEntity: false) }
            }
            recordDecisionsWithoutEvents(decisions, commands: commands, in: record)
            return .decided(decisions)
        }
        var decidedIDs: [UUID] = []
        var processedWithoutEvents: [(UUID, CommandDigest)] = []
        for (decision, command) in zip(decisions, commands) {
            switch decision {
            case .events: decidedIDs.append(command.commandID)
            case .noEvents:
                decidedIDs.append(command.commandID)
                processedWithoutEvents.append((command.commandID, command.digest))
            case .refused, .alone: break
            }
        }
        let write = QueuedWrite(messages: messages, start: start, commandIDs: decidedIDs, processedWithoutEvents: processedWithoutEvents)
        record.unwrittenBatches.append(write)
        // A store that chains appends takes this one now, behind the entity's last one, and
        // writes it only if that one is written: both can then go into one commit.
        let chained = store.appendChained(
            messages, to: record.stream, expectedVersion: write.expectedVersion, after: record.lastChainedAppend)
        record.lastChainedAppend = chained
        if record.writeQueue.push(WriteQueue.Pending(messages: messages, expectedVersion: write.expectedVersion, chained: chained)) {
            // Off this actor and above the callers' tasks: the writer starts the next append
            // as soon as the previous one is written, while this actor decides.
            let entity = EntityToken(record: record)
            let queue = record.writeQueue
            let stream = record.stream
            Task.detached(priority: writerPriority) { await self.writeQueuedBatches(of: entity, queue: queue, stream: stream) }
            await configuration.afterStartingWriter?(messages.count)
        }
        return .writing(decisions, write)
    }

    /// The entity's batch writer. With a store that chains appends, each batch's append is in
    /// the store's hands already and the writer waits for their outcomes in turn. Otherwise it
    /// appends the batches queued so far in one append, and when that append is written it
    /// appends the batches queued meanwhile at once (never before). Either way this actor
    /// records each write and answers (``settleWrite(of:batches:result:followed:)``, in
    /// order, one write after the other), and a failed append takes every batch queued behind
    /// it along.
    private nonisolated func writeQueuedBatches(of entity: EntityToken, queue: WriteQueue, stream: StreamName) async {
        var settling: Task<Void, Never>?
        /// Records a write on the actor after the writes before it.
        func settle(_ count: Int, _ result: Result<WriteResult, any Error>, followed: Bool) {
            let previous = settling
            settling = Task(priority: writerPriority) {
                await previous?.value
                await self.settleWrite(of: entity, batches: count, result: result, followed: followed)
            }
        }
        var group = queue.takeOrStop()
        while let current = group {
            group = nil
            if current[0].chained != nil {
                for (index, batch) in current.enumerated() {
                    let result: Result<WriteResult, any Error>
                    do {
                        result = .success(try await batch.chained!.value())
                    } catch {
                        // The batches chained after it fail with it; the actor gives them up.
                        settle(1, .failure(error), followed: false)
                        break
                    }
                    if index == current.count - 1 { group = queue.take() }
                    settle(1, result, followed: index < current.count - 1 || group != nil)
                }
            } else {
                let result: Result<WriteResult, any Error>
                do {
                    result = .success(
                        try await store.append(current.flatMap(\.messages), to: stream, expectedVersion: current[0].expectedVersion))
                } catch {
                    result = .failure(error)
                }
                if case .success = result { group = queue.take() }
                settle(current.count, result, followed: group != nil)
            }
            if group == nil {
                // After a failure the actor gives up what is queued; otherwise more may be
                // queued while it records this write.
                await settling?.value
                settling = nil
                group = queue.takeOrStop()
            }
        }
    }

    /// Records an append of the entity's oldest `count` unwritten batches and gives their
    /// leaders the outcome. A failed append gives up every unwritten batch (they were decided
    /// on its events) and drops the entity. Wakes the turns waiting for the writes to settle
    /// once none is left.
    private func settleWrite(of entity: EntityToken, batches count: Int, result: Result<WriteResult, any Error>, followed: Bool) {
        let record = entity.record
        switch result {
        case .success(let written):
            let group = Array(record.unwrittenBatches.prefix(count))
            record.unwrittenBatches.removeFirst(count)
            let messages = group.flatMap(\.messages)
            let recorded = RecordedEvent.written(messages, written, to: record.stream)
            if isLive(record) {
                // The events are applied already: only the entity's bookkeeping follows.
                recordApplied(recorded[...], to: record)
                for write in group {
                    for (id, digest) in write.processedWithoutEvents { record.processed[id] = digest }
                }
            } else {
                // The instance was replaced during the append: the events are written, and the
                // entity is rebuilt from its stream on next use.
                record.handle = nil
            }
            metrics.eventsWritten.increment(by: Int64(recorded.count))
            batchStatistics.appends += 1
            if followed { batchStatistics.followedAppends += 1 }
            var offset = 0
            for write in group {
                finish(write, recorded: Array(recorded[offset..<(offset + write.messages.count)]))
                offset += write.messages.count
            }
        case .failure(let error):
            if let error = error as? MessageStoreError, error.code == .wrongExpectedVersion { metrics.conflicts.increment() }
            // The batches queued meanwhile were decided on these events: none of them stands.
            dropEntity(record)
            record.writeQueue.removeAll()
            record.lastChainedAppend = nil
            let givenUp = record.unwrittenBatches
            record.unwrittenBatches = []
            for write in givenUp { finish(write, recorded: nil) }
        }
        guard record.unwrittenBatches.isEmpty else { return }
        let waiters = record.settleWaiters
        record.settleWaiters = []
        for waiter in waiters { waiter.resume() }
        snapshotIfDue(record)
    }

    /// Ends a queued batch: its events are written (`recorded`) or given up (nil).
    private func finish(_ write: QueuedWrite, recorded: [RecordedEvent]?) {
        write.recorded = .some(recorded)
        write.waiter?.resume(returning: recorded)
        write.waiter = nil
    }

    /// The events of a queued batch once written, or nil when they were not.
    private func outcome(of write: QueuedWrite) async -> [RecordedEvent]? {
        if let recorded = write.recorded { return recorded }
        return await withCheckedContinuation { write.waiter = $0 }
    }

    /// Waits until none of the entity's batches is being written: when one was not written,
    /// the entity has been dropped.
    func settle(_ record: EntityRecord) async {
        while record.isWriting {
            await withCheckedContinuation { record.settleWaiters.append($0) }
        }
    }

    /// Commands accepted without events count as processed, as they do alone.
    private func recordDecisionsWithoutEvents(_ decisions: [Decision], commands: [PreparedCommand], in record: EntityRecord) {
        for (decision, command) in zip(decisions, commands) {
            if case .noEvents = decision { record.processed[command.commandID] = command.digest }
        }
    }
}

/// A decided batch queued for the entity's writer.
final class QueuedWrite {
    let messages: [NewMessage]
    /// The version the batch was decided at, which its append expects.
    let start: Int64
    var expectedVersion: ExpectedVersion { ExpectedVersion(start) }
    /// The commands it decided, with events or without.
    let commandIDs: [UUID]
    /// The commands it accepted without events, which count as processed once it is written.
    let processedWithoutEvents: [(UUID, CommandDigest)]
    /// Set when the writer is done with it: the recorded events, or nil when not written.
    var recorded: [RecordedEvent]??
    /// The batch's leader, waiting for `recorded`.
    var waiter: CheckedContinuation<[RecordedEvent]?, Never>?

    init(messages: [NewMessage], start: Int64, commandIDs: [UUID], processedWithoutEvents: [(UUID, CommandDigest)]) {
        self.messages = messages
        self.start = start
        self.commandIDs = commandIDs
        self.processedWithoutEvents = processedWithoutEvents
    }
}

/// The batches an entity's turns queued for its writer and whether the writer runs, shared
/// between the worker's actor (which queues) and the writer (which takes), under a lock.
final class WriteQueue: Sendable {
    /// A queued batch: its events and the version it was decided at.
    struct Pending: Sendable {
        let messages: [NewMessage]
        /// What its append expects: the version it was decided at.
        let expectedVersion: ExpectedVersion
        /// Its append, already handed to a store that chains appends; nil for other stores.
        let chained: ChainedAppend?
    }

    private struct State {
        var pending: [Pending] = []
        var writerRuns = false
    }

    private let state = Mutex(State())

    /// Queues a batch. True when no writer runs: the caller starts one, which takes it.
    func push(_ batch: Pending) -> Bool {
        state.withLock { state in
            state.pending.append(batch)
            defer { state.writerRuns = true }
            return !state.writerRuns
        }
    }

    /// The batches queued since the last take, or nil when there are none.
    func take() -> [Pending]? {
        state.withLock { state in
            guard !state.pending.isEmpty else { return nil }
            defer { state.pending = [] }
            return state.pending
        }
    }

    /// The batches queued since the last take, or nil when there are none, and then the
    /// writer stops (the next push starts another).
    func takeOrStop() -> [Pending]? {
        state.withLock { state in
            guard !state.pending.isEmpty else {
                state.writerRuns = false
                return nil
            }
            defer { state.pending = [] }
            return state.pending
        }
    }

    /// Drops the queued batches (after a failed append gave them up).
    func removeAll() {
        state.withLock { $0.pending = [] }
    }
}

/// An entity record handed to its writer, which runs off the worker's actor: the writer only
/// passes it back to the actor (``InstanceWorker/settleWrite(of:batches:result:)``), which
/// is the only place it is read or changed.
struct EntityToken: @unchecked Sendable {
    let record: EntityRecord
}

/// The priority of an entity's batch writer: above any caller's (`.high` is 25).
private let writerPriority = TaskPriority(rawValue: 33)
