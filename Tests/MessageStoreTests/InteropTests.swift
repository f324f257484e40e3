import Foundation
import JSON
import MessageDB
import MessageStore
import TestSupport
import Testing

/// Interoperability with software nobody here wrote: the `message-db-py` client from PyPI.
@Suite("message-db-py interoperability")
struct InteropTests {
    @Test("message-db-py reads what Thalo wrote and Thalo reads what it wrote, with identical fields")
    func roundTrip() async throws {
        let python = try await PythonEnvironment.shared.python()
        let url = try await PostgresFixture.shared.freshDatabase()
        let database = URLComponents(string: url)!.path.dropFirst()
        let port = URLComponents(string: url)!.port!
        try await MessageDBStore.withStore(url: url) { store in
            let metadata = Metadata(correlationStreamName: "order-1", properties: ["moduleVersion": "1.0.0"])
            try await store.write(
                [
                    NewMessage(type: "Opened", data: ["initial_balance": 100, "owner": "Zoë"], metadata: metadata),
                    NewMessage(type: "Deposited", data: ["amount": 25]),
                ], to: "bankAccount-42")
            let script = """
                import json, sys
                from message_db.client import MessageDB  # 0.3.5 does not re-export it from the package
                db = MessageDB.from_url("postgresql://message_store@127.0.0.1:\(port)/\(database)")
                out = {"read": db.read_stream("bankAccount-42"), "last": db.read_last_message("bankAccount-42")}
                db.write("bankAccount-42", "Withdrawn", {"amount": 5}, {"causationMessagePosition": 1}, expected_version=1)
                db.write("bankAccount:command-7", "deposit_funds", {"amount": 3})
                try:
                    db.write("bankAccount-42", "Withdrawn", {"amount": 5}, expected_version=0)
                    out["conflict"] = None
                except ValueError as error:
                    out["conflict"] = str(error)
                print(json.dumps(out, default=str))
                """
            let output = try await ProcessRunner.output(python, ["-c", script])
            try #require(output.status == 0, "\(output.combined)")
            let result = try JSONValue(parsing: output.standardOutput)
            let read = try #require(result["read"]?.arrayValue)
            let ours = try await store.readStream("bankAccount-42", from: 0, batchSize: 2)
            #expect(read.count == 2)
            for (theirs, mine) in zip(read, ours) {
                #expect(theirs["id"]?.stringValue == mine.id.uuidString.lowercased())
                #expect(theirs["stream_name"]?.stringValue == mine.streamName.rawValue)
                #expect(theirs["type"]?.stringValue == mine.type)
                #expect(theirs["position"]?.integerValue == mine.position)
                #expect(theirs["global_position"]?.integerValue == mine.globalPosition)
                #expect(theirs["data"] == (try mine.dataJSON()))
                if let metadataText = mine.metadata {
                    #expect(theirs["metadata"] == (try JSONValue(parsing: metadataText)))
                } else {
                    #expect(theirs["metadata"] == nil || theirs["metadata"] == .null)
                }
                let theirTime = try #require(theirs["time"]?.stringValue)
                #expect(Timestamp(iso8601: theirTime) == mine.time, "\(theirTime) vs \(mine.time)")
            }
            #expect(result["last"]?["position"]?.integerValue == 1)
            #expect(
                result["conflict"]?.stringValue?.contains("Wrong expected version: 0 (Stream: bankAccount-42, Stream Version: 2)") == true)

            let written = try #require(try await store.readStream("bankAccount-42", from: 2).first)
            #expect(written.type == "Withdrawn")
            #expect(try written.dataJSON() == ["amount": 5])
            #expect(try written.parsedMetadata().causationMessagePosition == 1)
            let command = try #require(try await store.readCategory("bankAccount:command").first)
            #expect(command.streamName == "bankAccount:command-7")
            #expect(try command.dataJSON() == ["amount": 3])
        }
    }
}
