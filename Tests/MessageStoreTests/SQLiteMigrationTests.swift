import Foundation
import MessageStore
import Testing

@testable import MessageStoreSQLite

/// Stores written by an earlier version are brought up to date when opened.
@Suite("SQLite store: schema migrations")
struct SQLiteMigrationTests {
    @Test("a version 1 store's streams without an id leave every consumer group when it is opened (schema version 2)")
    func version1To2() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("thalo-migration-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("messages.sqlite").path
        let first = try SQLiteMessageStore(configuration: .init(path: path))
        try await first.write(NewMessage(type: "Noted", data: [:]), to: "account")
        try await first.write(NewMessage(type: "Opened", data: [:]), to: "account-1")
        first.close()
        // As version 1 left it: the id-less stream's hash taken from its name (0 is member
        // 0's remainder in any group).
        do {
            let connection = try SQLiteConnection(path: path, readOnly: false)
            try connection.execute(
                """
                UPDATE messages SET partition_hash = 0 WHERE stream_name = 'account';
                UPDATE thalo_store SET value = '1' WHERE key = 'schema_version';
                """)
        }

        let reopened = try SQLiteMessageStore(configuration: .init(path: path))
        defer { reopened.close() }
        var read: [StreamName] = []
        for member in Int64(0)..<2 {
            read += try await reopened.readCategory("account", consumerGroup: try ConsumerGroup(member: member, size: 2)).map(\.streamName)
        }
        #expect(read == ["account-1"])
        #expect(try await reopened.readCategory("account").map(\.streamName) == ["account", "account-1"])
    }
}
