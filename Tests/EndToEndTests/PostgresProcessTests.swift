import Foundation
import JSON
import MessageDB
import MessageStore
import TestSupport
import Testing

/// `thalo serve` processes on PostgreSQL: interop with message-db-py, and two processes at once.
@Suite("End to end on PostgreSQL", .serialized)
struct PostgresProcessTests {
    /// Publishes the bank account example to a server with the CLI.
    static func publishBankAccount(to server: ServerProcess) async throws {
        let built = try await ExampleModules.shared.build("bank_account")
        let published = try await ThaloBinary.run([
            "publish", "Examples/bank_account/bank_account.esdl", built.result.wasmURL.path, "--url", server.url,
        ])
        guard published.status == 0 else { throw HarnessError("publish failed: \(published.combined)") }
    }

    @Test("a command written by message-db-py is handled by thalo serve, and message-db-py reads the events")
    func messageDBPyInterop() async throws {
        let python = try await PythonEnvironment.shared.python()
        let url = try await PostgresFixture.shared.freshDatabase()
        let server = try await ServerProcess(["--database-url", url])
        defer { server.kill() }
        try await Self.publishBankAccount(to: server)
        let components = URLComponents(string: url)!
        let connection = "postgresql://message_store@127.0.0.1:\(components.port!)\(components.path)"
        let script = """
            import json, time
            from message_db.client import MessageDB  # 0.3.5 does not re-export it from the package
            db = MessageDB.from_url("\(connection)")
            db.write("bankAccount:command-1", "open_account", {"initial_balance": 100})
            db.write("bankAccount:command-1", "deposit_funds", {"amount": 20}, {"correlationStreamName": "py-1"})
            events = []
            deadline = time.time() + 60
            while len(events) < 2 and time.time() < deadline:
                events = db.read_stream("bankAccount-1")
                time.sleep(0.1)
            print(json.dumps(events, default=str))
            """
        let output = try await ProcessRunner.output(python, ["-c", script])
        try #require(output.status == 0, "\(output.combined)\n\(server.process.output)")
        let events = try #require(try JSONValue(parsing: output.standardOutput).arrayValue)
        #expect(events.map { $0["type"]?.stringValue ?? "" } == ["OpenedAccount", "DepositedFunds"])
        #expect(events.first?["data"] == ["initial_balance": 100])
        #expect(events.last?["data"] == ["amount": 20])
        #expect(events.last?["metadata"]?["correlationStreamName"] == "py-1")
        #expect(events.last?["metadata"]?["causationMessageStreamName"] == "bankAccount:command-1")
        #expect(events.last?["metadata"]?["causationMessagePosition"] == 1)
        #expect(events.last?["metadata"]?["moduleName"] == "BankAccount")
    }

    @Test("two thalo serve processes on one PostgreSQL: no gap, no duplicate position, no lost event")
    func twoProcesses() async throws {
        let url = try await PostgresFixture.shared.freshDatabase()
        let first = try await ServerProcess(["--database-url", url, "--data-dir", try temporaryFolder("p1").path])
        defer { first.kill() }
        try await Self.publishBankAccount(to: first)
        let second = try await ServerProcess(["--database-url", url, "--data-dir", try temporaryFolder("p2").path])
        defer { second.kill() }
        let accounts = ["a", "b", "c", "d"]
        for account in accounts {
            let response = try await HTTP.post("\(first.url)/v1/execute/BankAccount/\(account)/open_account", ["initial_balance": 0])
            #expect(response.status == 200, "\(response.text)")
        }
        // 8 clients, alternating between the two servers, deposit into the same few accounts.
        // Each command's id, and the answer when it was not a 200.
        let outcomes = try await withThrowingTaskGroup(of: [(id: String, failure: String?)].self) { group in
            for client in 0..<8 {
                group.addTask {
                    let server = client % 2 == 0 ? first : second
                    var outcomes: [(id: String, failure: String?)] = []
                    for round in 0..<25 {
                        let id = UUID().uuidString.lowercased()
                        let account = accounts[(client + round) % accounts.count]
                        let response = try await HTTP.post(
                            "\(server.url)/v1/execute/BankAccount/\(account)/deposit_funds", ["amount": 1], headers: ["Idempotency-Key": id]
                        )
                        outcomes.append((id, response.status == 200 ? nil : "\(response.status) \(response.text)"))
                    }
                    return outcomes
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let acknowledged = outcomes.filter { $0.failure == nil }.map(\.id)
        let failures = outcomes.compactMap(\.failure)
        #expect(acknowledged.count == 200, "every command should succeed after conflict retries; failed: \(failures)")
        try await MessageDBStore.withStore(url: url) { store in
            var counts: [String: Int] = [:]
            for account in accounts {
                let messages = try await store.readWholeStream(StreamName(category: "bankAccount", id: account))
                #expect(messages.map(\.position) == Array(0..<Int64(messages.count)), "gapless positions in \(account)")
                for message in messages.dropFirst() {
                    counts[try message.parsedMetadata().properties["commandId"]?.stringValue ?? "?", default: 0] += 1
                }
            }
            #expect(counts.values.reduce(0, +) == acknowledged.count)
            for id in acknowledged { #expect(counts[id] == 1, "command \(id) recorded \(counts[id] ?? 0) times") }
        }
    }
}
