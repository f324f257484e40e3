import Foundation
import Logging
import MessageStore
import MessageStoreSQLite
import TestSupport
import Testing

/// The embedded store's write-ahead log is copied back into the database file by a thread of
/// its own; the writer checkpoints itself only when the log grows past four times the
/// threshold, so the log stays bounded either way.
@Suite("SQLite checkpoints")
struct CheckpointTests {
    static let pages = 20
    static let writers = 8
    static let appendsPerWriter = 150

    static func store(inBackground: Bool, failing: Bool = false) throws -> (SQLiteMessageStore, wal: String) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("thalo-checkpoint-\(UUID().uuidString)")
        let path = folder.appendingPathComponent("messages.sqlite").path
        var configuration = SQLiteMessageStore.Configuration(
            path: path, checkpointPages: pages, checkpointsInBackground: inBackground)
        // Each failed checkpoint logs a warning; the failing case would print dozens.
        var logger = Logger(label: "thalo.sqlite")
        if failing {
            configuration.faultInjector = { $0 == "CHECKPOINT" ? MessageStoreError(.storage, "injected checkpoint failure") : nil }
            logger.logLevel = .error
        }
        return (try SQLiteMessageStore(configuration: configuration, logger: logger), path + "-wal")
    }

    /// Eight writers, each appending ~1 KiB messages to streams of its own.
    static func write(to store: SQLiteMessageStore) async throws {
        let data = String(repeating: "x", count: 1000)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    for index in 0..<appendsPerWriter {
                        try await store.write(
                            NewMessage(type: "Written", data: ["text": .string(data)]),
                            to: StreamName(category: "checkpoint", id: "\(writer)x\(index % 10)"))
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// The writes add up to about 15 MB of log when nothing checkpoints it. With checkpoints
    /// the log holds at most the writer's limit (four times the threshold), plus what commits
    /// add while a background checkpoint holds SQLite's checkpoint lock (the writer's own
    /// checkpoint is then refused until the next commit): far less than 2 MiB.
    static func expectBounded(wal: String) throws {
        let bytes = try #require(try FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int)
        #expect(bytes <= 2 << 20, "the write-ahead log grew to \(bytes) bytes")
    }

    static func expectEverythingReadable(_ store: SQLiteMessageStore) async throws {
        let messages = try await store.readCategory("checkpoint", from: 1, batchSize: 10_000)
        #expect(messages.count == writers * appendsPerWriter)
        #expect(messages.map(\.globalPosition) == Array(1...Int64(writers * appendsPerWriter)))
    }

    @Test("the log is copied back on the checkpoint thread, stays bounded, and everything written reads back")
    func inBackground() async throws {
        let (store, wal) = try Self.store(inBackground: true)
        defer { store.close() }
        try await Self.write(to: store)
        try await waitUntil("a background checkpoint ran", timeout: .seconds(60)) { store.groupStatistics.backgroundCheckpoints > 0 }
        try Self.expectBounded(wal: wal)
        try await Self.expectEverythingReadable(store)
    }

    @Test("when the checkpoint thread fails, the writer checkpoints itself at four times the threshold")
    func writerTakesOver() async throws {
        let (store, wal) = try Self.store(inBackground: true, failing: true)
        defer { store.close() }
        try await Self.write(to: store)
        let statistics = store.groupStatistics
        #expect(statistics.backgroundCheckpoints == 0)
        #expect(statistics.writerCheckpoints > 0)
        try Self.expectBounded(wal: wal)
        try await Self.expectEverythingReadable(store)
    }

    @Test("with background checkpoints off, the writer checkpoints as SQLite does by default")
    func inTheCommit() async throws {
        let (store, wal) = try Self.store(inBackground: false)
        defer { store.close() }
        try await Self.write(to: store)
        #expect(store.groupStatistics.backgroundCheckpoints == 0)
        try Self.expectBounded(wal: wal)
        try await Self.expectEverythingReadable(store)
    }
}
