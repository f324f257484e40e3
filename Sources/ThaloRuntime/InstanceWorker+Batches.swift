import Foundation
import MessageStore

/// Batches (contract 1.2, docs/module-contract.md): commands queued behind a busy entity run
/// back to back on its in-memory state, and the events of all of them go out in one append
/// with one expected version. A hot entity then costs one write per batch instead of one
/// per command.
extension InstanceWorker {
    /// The queued commands that join the batch of the command now holding the entity: all of
    /// them, up to ``RuntimeConfiguration/maximumBatchSize``, when the module allows batches;
    /// none otherwise (they then wait for their own turn).
    func takeBatch(behind record: EntityRecord) -> [QueuedCommand] {
        guard configuration.maximumBatchSize > 1, !record.waiters.isEmpty, batchesCommands else { return [] }
        let count = min(record.waiters.count, configuration.maximumBatchSize - 1)
        let taken = Array(record.waiters.prefix(count))
        record.waiters.removeFirst(count)
        return taken
    }

    /// How many commands wait for an entity (for tests).
    func queuedCommands(entityID: String) -> Int {
        cache.peek(entityID)?.waiters.count ?? 0
    }

    /// Runs the commands in order on the entity (the caller holds it) and gives each its
    /// outcome.
    ///
    /// Each handler sees the state after the events of the commands before it, applied
    /// before they are written; then every event of the batch is appended at once,
    /// expecting the version the batch started from, so that the decisions stand together
    /// or not at all. When anything goes wrong on the way (a conflict, a failed call, a
    /// store error, an event the module cannot apply) the entity is dropped and every
    /// command runs alone, as if there had been no batch: batching changes how fast
    /// commands run, never what they decide.
    func runBatch(_ commands: [PreparedCommand], on record: EntityRecord) async -> [Result<CommandOutcome, RuntimeError>] {
        var results = [Result<CommandOutcome, RuntimeError>?](repeating: nil, count: commands.count)
        let attempt: BatchAttempt
        do {
            attempt = try await attemptBatch(commands, on: record)
        } catch {
            attempt = .runAlone(dropEntity: true)
        }
        switch attempt {
        case .runAlone(let drop):
            if drop { dropEntity(record) }
        case .decided(let decisions, let recorded):
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
        // What the batch did not decide runs alone, in order, on the state the batch left.
        for index in commands.indices where results[index] == nil {
            do {
                results[index] = .success(try await executeAlone(commands[index], on: record))
            } catch {
                results[index] = .failure(error)
            }
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
        /// It runs alone after the batch (its command id was seen before, or earlier in the batch).
        case alone
    }

    private enum BatchAttempt {
        /// The decisions stand; `recorded` are the events written, in order.
        case decided([Decision], recorded: [RecordedEvent])
        /// The batch is given up; every command runs alone, after dropping the entity when it
        /// applied events that were not written.
        case runAlone(dropEntity: Bool)
    }

    private func attemptBatch(_ commands: [PreparedCommand], on record: EntityRecord) async throws(RuntimeError) -> BatchAttempt {
        var readStream = false
        if !isLive(record) {
            try await load(record)
            readStream = true
        }
        let start = record.version
        var decisions: [Decision] = []
        var messages: [NewMessage] = []
        var idsInBatch = Set<UUID>()
        for command in commands {
            guard seen(command, in: record) == .notSeen, idsInBatch.insert(command.commandID).inserted else {
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
            let firstPosition = start + 1 + Int64(messages.count)
            let unwritten = new.enumerated().map { index, message in
                RecordedEvent(
                    id: message.id, type: message.type, data: message.data, metadata: message.metadata, streamName: record.stream,
                    position: firstPosition + Int64(index), globalPosition: -1, time: Timestamp(microsecondsSinceEpoch: -1))
            }
            for chunk in Self.applyChunks(unwritten, limits: module.limits) {
                let refused = try call("apply") { guest throws(GuestFailure) in try guest.apply(handle, events: chunk.map(Self.guestEvent))
                }
                if refused != nil { return .runAlone(dropEntity: true) }
            }
            decisions.append(.events(messages.count..<(messages.count + new.count)))
            messages += new
        }
        guard !messages.isEmpty else {
            // Nothing to write, so no expected version vouches for the decisions: as for a
            // command alone, the entity catches up once, and the batch stands only if the
            // stream had not moved.
            if !readStream {
                let version = record.version
                let generation = record.generation
                try await load(record)
                if record.version != version || record.generation != generation { return .runAlone(dropEntity: false) }
            }
            recordDecisionsWithoutEvents(decisions, commands: commands, in: record)
            return .decided(decisions, recorded: [])
        }
        let written: WriteResult
        do {
            written = try await store.append(messages, to: record.stream, expectedVersion: start < 0 ? .noStream : .version(start))
        } catch {
            if let error = error as? MessageStoreError, error.code == .wrongExpectedVersion { metrics.conflicts.increment() }
            return .runAlone(dropEntity: true)
        }
        let recorded = zip(messages, written.recorded).map { message, position in
            RecordedEvent(
                id: message.id, type: message.type, data: message.data, metadata: message.metadata, streamName: record.stream,
                position: position.position, globalPosition: position.globalPosition, time: position.time)
        }
        if isLive(record) {
            // The events are applied already: only the entity's bookkeeping follows.
            recordApplied(recorded[...], to: record)
            recordDecisionsWithoutEvents(decisions, commands: commands, in: record)
            snapshotIfDue(record)
        } else {
            // The instance was replaced during the append: the events are written, and the
            // entity is rebuilt from its stream on next use.
            record.handle = nil
        }
        metrics.eventsWritten.increment(by: Int64(recorded.count))
        return .decided(decisions, recorded: recorded)
    }

    /// Commands accepted without events count as processed, as they do alone.
    private func recordDecisionsWithoutEvents(_ decisions: [Decision], commands: [PreparedCommand], in record: EntityRecord) {
        for (decision, command) in zip(decisions, commands) {
            if case .noEvents = decision { record.processed[command.commandID] = command.digest }
        }
    }
}
