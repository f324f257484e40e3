import Foundation
import MessageStore

/// Snapshots (docs/snapshots.md): every ``RuntimeConfiguration/snapshotEvery`` events the
/// live entity's state is saved through the module's `snapshot` export, after the command
/// that crossed the mark has been answered; an entity is loaded from the latest snapshot
/// its module's digest wrote, plus the events after it.
extension InstanceWorker {
    /// Whether this worker writes and reads snapshots at all.
    var usesSnapshots: Bool {
        configuration.snapshotEvery > 0 && module.supportsSnapshots && !snapshotsFailed
    }

    /// Loads the entity from its latest usable snapshot into a new guest entity. Returns
    /// false (and changes nothing) when there is none: snapshots are off, the latest was
    /// written by another module digest, it does not match the stream (the event it was
    /// taken at is not there), or the module could not restore it.
    func restoreSnapshot(of record: EntityRecord) async throws(RuntimeError) -> Bool {
        guard usesSnapshots else { return false }
        let snapshotStream = Snapshot.stream(category: category, id: record.id)
        let latest: Message?
        do {
            latest = try await store.lastMessage(in: snapshotStream, type: Snapshot.messageType)
        } catch {
            throw RuntimeError.store(error, while: "reading \(snapshotStream)")
        }
        guard let latest, let snapshot = Snapshot(latest), snapshot.moduleDigest == module.digest else { return false }
        // The events up to the snapshot: the last one must be the one it was taken at, and
        // the command ids of the last few count as processed (idempotency).
        let first = max(0, snapshot.position - Snapshot.idempotencyWindow + 1)
        let window: [Message]
        do {
            window = try await store.readStream(record.stream, from: first, batchSize: snapshot.position - first + 1, condition: nil)
        } catch {
            throw RuntimeError.store(error, while: "reading \(record.stream)")
        }
        guard let last = window.last, last.position == snapshot.position, last.id == snapshot.eventID else {
            logger.warning(
                "the latest snapshot does not match its stream (the event it was taken at is not there); rebuilding from the events",
                metadata: ["stream": "\(record.stream)", "snapshot.position": "\(snapshot.position)"])
            return false
        }
        let id = record.id
        let restored: Result<UInt32, GuestError>
        do {
            restored = try call("restore") { guest throws(GuestFailure) in try guest.restore(id: id, state: snapshot.state) }
        } catch {
            logger.warning(
                "the module failed restoring a snapshot; rebuilding from the events",
                metadata: ["stream": "\(record.stream)", "error": "\(error.message)"])
            return false
        }
        switch restored {
        case .success(let handle):
            record.reset(handle: handle, generation: generation)
            record.version = snapshot.position
            record.lastEventID = snapshot.eventID
            record.snapshotVersion = snapshot.position
            record.appliedBytes = snapshot.state.count
            for message in window { recordCommand(of: message.metadata, in: record) }
            metrics.snapshotsRestored.increment()
            return true
        case .failure(let error):
            logger.warning(
                "the module refused a snapshot; rebuilding from the events",
                metadata: ["stream": "\(record.stream)", "error": "\(error)"])
            return false
        }
    }

    /// Schedules a snapshot when the entity has applied `snapshotEvery` events since the
    /// last one. The snapshot is taken later on this actor, not while the caller waits.
    func snapshotIfDue(_ record: EntityRecord) {
        guard usesSnapshots, snapshotTasks[record.key] == nil, isLive(record),
            record.version - record.snapshotVersion >= Int64(configuration.snapshotEvery)
        else { return }
        snapshotTasks[record.key] = Task {
            await self.takeSnapshot(of: record)
            self.snapshotTasks[record.key] = nil
        }
    }

    /// Returns once every snapshot scheduled so far has been written (or given up).
    func snapshotsSettled() async {
        while let task = snapshotTasks.values.first {
            await task.value
        }
    }

    /// Saves the live entity's state to its snapshot stream.
    private func takeSnapshot(of record: EntityRecord) async {
        // While a batch (or a command alone) is being written the entity has applied events
        // that are not in its stream yet: its state is not the state at `version`. The
        // append that ends the write schedules the snapshot again.
        guard usesSnapshots, isLive(record), !record.isWriting, !record.appliesAhead, let handle = record.handle,
            let eventID = record.lastEventID
        else { return }
        let position = record.version
        let appliedBytes = record.appliedBytes
        let state: [UInt8]?
        do {
            state = try call("snapshot") { guest throws(GuestFailure) in try guest.snapshot(handle, appliedBytes: appliedBytes) }
        } catch {
            snapshotsFailed = true
            logger.error(
                "the module failed taking a snapshot; snapshots are off for this module instance until it is reloaded",
                metadata: ["stream": "\(record.stream)", "error": "\(error.message)"])
            return
        }
        // The module has nothing to save now: ask again after another `snapshotEvery` events.
        record.snapshotVersion = position
        guard let state else { return }
        let snapshot = Snapshot(position: position, eventID: eventID, state: state, module: module)
        let stream = Snapshot.stream(category: category, id: record.id)
        do {
            _ = try await store.write(snapshot.message, to: stream)
            metrics.snapshotsWritten.increment()
        } catch {
            logger.warning(
                "could not write a snapshot; the entity is still loaded from its events",
                metadata: ["stream": "\(stream)", "error": "\(error)"])
        }
    }
}
