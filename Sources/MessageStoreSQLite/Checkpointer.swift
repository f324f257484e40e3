import CSQLite
import Foundation
import Logging
import MessageStore
import Synchronization

/// Copies the write-ahead log back into the database file on a thread of its own, with a
/// connection of its own, so that the writer's commits do not wait for it.
///
/// SQLite's own automatic checkpoint runs inside the commit that crossed its threshold: that
/// commit, and every write queued behind it, waits while the log's pages are read, written to
/// the database file and synced. Here the writer's connection only reports the log's length
/// after each commit (its WAL hook); once per `frames` new pages it wakes this thread, which
/// runs a passive checkpoint (it never blocks the writer or the readers, and copies only what
/// no reader still needs). The log starts over at the next write once everything was copied,
/// which under continuous writes happens only when the writer checkpoints itself (below).
/// If the log still reaches `frames × 4` pages (this thread falls behind, or a reader holds an
/// old snapshot), the writer checkpoints itself, as SQLite would, so the log stays bounded.
///
/// `@unchecked Sendable`: `requested` and `stopped` are guarded by `condition`,
/// `requestedAt` is only used on the writer's thread, and the connection only on this one.
final class Checkpointer: @unchecked Sendable {
    /// Log pages after which a checkpoint is requested.
    let frames: Int
    /// Log pages after which the writer checkpoints itself.
    var writerLimit: Int { frames * 4 }
    private let path: String
    private let synchronous: SQLiteMessageStore.Synchronous
    private let logger: Logger
    private let condition = NSCondition()
    private var requested = false
    /// The log's length when the last checkpoint was requested; only used on the writer's
    /// thread (in its WAL hook).
    private var requestedAt = 0
    private var stopped = false
    private let counts = Mutex((background: 0, writer: 0))
    /// For tests: the store's fault injector, asked with `CHECKPOINT` before each background
    /// checkpoint; an error it returns fails that checkpoint.
    private let faultInjector: (@Sendable (String) -> MessageStoreError?)?

    /// Starts the checkpoint thread and installs the WAL hook on the writer's connection,
    /// which replaces SQLite's automatic checkpoint on that connection.
    init(
        watching writer: SQLiteConnection, synchronous: SQLiteMessageStore.Synchronous, frames: Int, logger: Logger,
        faultInjector: (@Sendable (String) -> MessageStoreError?)? = nil
    ) {
        self.faultInjector = faultInjector
        self.path = writer.path
        self.synchronous = synchronous
        self.frames = max(1, frames)
        self.logger = logger
        let context = Unmanaged.passUnretained(self).toOpaque()
        sqlite3_wal_hook(
            writer.handle,
            { context, database, _, pages in
                Unmanaged<Checkpointer>.fromOpaque(context!).takeUnretainedValue().committed(logPages: Int(pages), on: database)
                return SQLITE_OK
            }, context)
        // The thread holds the checkpointer until its loop ends (after `stop()`).
        let thread = Thread { self.loop() }
        thread.name = "thalo-sqlite-checkpoint"
        thread.start()
    }

    /// Checkpoints run so far: by this thread, and by the writer at its limit.
    var checkpoints: (background: Int, writer: Int) { counts.withLock { $0 } }

    /// Called on the writer's thread after each commit, with the log's length in pages.
    private func committed(logPages: Int, on database: OpaquePointer?) {
        if logPages < requestedAt { requestedAt = 0 }  // the log started over
        if logPages >= writerLimit {
            // Passive: copies what it can without waiting for readers; errors (a checkpoint
            // already running elsewhere) leave the log for the next commit.
            if sqlite3_wal_checkpoint_v2(database, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil) == SQLITE_OK {
                counts.withLock { $0.writer += 1 }
            }
            requestedAt = 0
        } else if logPages - requestedAt >= frames {
            // Once per `frames` new pages: a log that cannot start over (the writer keeps
            // appending while the checkpoint runs) is copied in steps, not over and over.
            requestedAt = logPages
            condition.withLock {
                requested = true
                condition.signal()
            }
        }
    }

    func stop() {
        condition.withLock {
            stopped = true
            condition.broadcast()
        }
    }

    private func loop() {
        var connection: SQLiteConnection?
        while true {
            condition.lock()
            while !requested && !stopped { condition.wait() }
            requested = false
            let stop = stopped
            condition.unlock()
            if stop { return }
            do {
                if connection == nil {
                    let opened = try SQLiteConnection(path: path, readOnly: false)
                    // The checkpoint syncs the database file as the writer's commits sync the log.
                    try opened.execute("PRAGMA synchronous = \(synchronous.rawValue)")
                    connection = opened
                }
                try checkpoint(on: connection!)
            } catch {
                logger.warning(
                    "SQLite background checkpoint failed; the writer checkpoints itself if the log keeps growing",
                    metadata: ["error": "\(error)"])
            }
        }
    }

    private func checkpoint(on connection: SQLiteConnection) throws(MessageStoreError) {
        if let fault = faultInjector?("CHECKPOINT") { throw fault }
        let status = sqlite3_wal_checkpoint_v2(connection.handle, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
        switch status {
        case SQLITE_OK: counts.withLock { $0.background += 1 }
        case SQLITE_BUSY, SQLITE_LOCKED: break  // another checkpoint is running; the next commit asks again
        default: throw connection.error("checkpointing the write-ahead log")
        }
    }
}
