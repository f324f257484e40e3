import Foundation
import MessageStore
import MessageStoreSQLite
import TestSupport
import Testing

/// The embedded store on a disk that fills up: writes fail with a clear error, nothing
/// acknowledged is lost, and writing works again once there is room. The disk is a small
/// tmpfs mounted for the test (the tests run as root, as CI does).
@Suite("SQLite store on a full disk", .serialized)
struct DiskFullTests {
    @Test("a full disk fails writes clearly; acknowledged writes stay; writing resumes when space returns")
    func diskFull() async throws {
        #expect(getuid() == 0, "mounting a tmpfs needs root; run the tests as root (CI does)")
        let mountPoint = FileManager.default.temporaryDirectory.appendingPathComponent("thalo-full-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        let mounted = try await ProcessRunner.output("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint.path])
        try #require(mounted.status == 0, "mount failed: \(mounted.combined)")
        defer {
            // What `umount -l` does, called directly: nothing can be awaited in a defer.
            _ = umount2(mountPoint.path, Int32(MNT_DETACH))
            try? FileManager.default.removeItem(at: mountPoint)
        }
        let store = try SQLiteMessageStore(path: mountPoint.appendingPathComponent("thalo.sqlite").path)
        defer { store.close() }
        var acknowledged: [Int] = []
        var failure: (any Error)?
        let payload = String(repeating: "x", count: 4_000)
        for index in 0..<2_000 {
            do {
                try await store.write(
                    NewMessage(type: "Filled", data: ["n": .integer(Int64(index)), "pad": .string(payload)]), to: "full-1")
                acknowledged.append(index)
            } catch {
                failure = error
                break
            }
        }
        let error = try #require(failure as? MessageStoreError, "the disk never filled up")
        #expect(error.code == .storage || error.code == .unavailable, "\(error)")
        #expect(!error.message.isEmpty)
        // Every acknowledged write is there.
        let stored = try await store.readWholeStream("full-1")
        #expect(stored.count == acknowledged.count)
        #expect(stored.map { $0.position } == stored.indices.map(Int64.init))
        // Space comes back: writes work again, positions go on without a gap.
        let grown = try await ProcessRunner.output("/bin/mount", ["-o", "remount,size=64m", mountPoint.path])
        try #require(grown.status == 0, "remount failed: \(grown.combined)")
        var resumed = false
        for _ in 0..<50 {
            do {
                try await store.write(NewMessage(type: "After", data: [:]), to: "full-1")
                resumed = true
                break
            } catch {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        #expect(resumed)
        let after = try await store.readWholeStream("full-1")
        #expect(after.count == acknowledged.count + 1)
        #expect(after.map(\.position) == after.indices.map(Int64.init))
    }
}
