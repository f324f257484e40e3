import Foundation
import JSON
import TestSupport
import Testing

/// `thalo serve` on PostgreSQL where the official Message DB 1.3 was installed by its own
/// `install.sh`, connected as the superuser and as the `message_store` role.
@Suite("End to end on the official Message DB", .serialized)
struct OfficialMessageDBProcessTests {
    static func databaseName(of url: String) -> String {
        String(URLComponents(string: url)!.path.dropFirst())
    }

    @Test(
        "thalo serve publishes and executes; psql and message-db-py read the events; commands from message-db-py are handled",
        arguments: [OfficialMessageDB.Connection.superuser, .role])
    func serveOnOfficialInstall(connection: OfficialMessageDB.Connection) async throws {
        let python = try await PythonEnvironment.shared.python()
        let cluster = try await OfficialMessageDB.shared.cluster()
        let url = try await OfficialMessageDB.shared.freshDatabase(as: connection)
        let database = Self.databaseName(of: url)
        let server = try await ServerProcess(["--database-url", url, "--data-dir", try temporaryFolder("official").path])
        defer { server.kill() }
        try await PostgresProcessTests.publishBankAccount(to: server)

        let executed = try await ThaloBinary.run(
            ["execute", "BankAccount", "o1", "open_account", #"{"initial_balance": 5}"#, "--url", server.url, "--json"])
        try #require(executed.status == 0, "\(executed.combined)\n\(server.process.output)")
        #expect(try JSONValue(parsing: executed.standardOutput)["events"]?.arrayValue?.first?["type"] == "OpenedAccount")

        // message-db-py connects as the message_store role, the way Message DB clients do.
        let script = """
            import json, time
            from message_db.client import MessageDB  # 0.3.5 does not re-export it from the package
            db = MessageDB.from_url("postgresql://message_store@127.0.0.1:\(cluster.port)/\(database)")
            first = db.read_stream("bankAccount-o1")
            db.write("bankAccount:command-o1", "deposit_funds", {"amount": 7}, {"correlationStreamName": "py-1"})
            events = []
            deadline = time.time() + 60
            while len(events) < 2 and time.time() < deadline:
                events = db.read_stream("bankAccount-o1")
                time.sleep(0.1)
            print(json.dumps({"first": first, "events": events}, default=str))
            """
        let output = try await ProcessRunner.output(python, ["-c", script])
        try #require(output.status == 0, "\(output.combined)\n\(server.process.output)")
        let result = try JSONValue(parsing: output.standardOutput)
        let first = try #require(result["first"]?.arrayValue)
        #expect(first.map { $0["type"]?.stringValue ?? "" } == ["OpenedAccount"])
        #expect(first.first?["data"] == ["initial_balance": 5])
        #expect(first.first?["metadata"]?["moduleName"] == "BankAccount")
        let events = try #require(result["events"]?.arrayValue)
        #expect(events.map { $0["type"]?.stringValue ?? "" } == ["OpenedAccount", "DepositedFunds"], "\(server.process.output)")
        #expect(events.last?["data"] == ["amount": 7])
        #expect(events.last?["metadata"]?["causationMessageStreamName"] == "bankAccount:command-o1")
        #expect(events.last?["metadata"]?["correlationStreamName"] == "py-1")

        // The official server functions, called unqualified through psql as the role.
        let rows = try await cluster.psql(
            "SELECT type || ' ' || data FROM get_stream_messages('bankAccount-o1')", database: database, user: "message_store")
        #expect(rows.split(separator: "\n") == [#"OpenedAccount {"initial_balance": 5}"#, #"DepositedFunds {"amount": 7}"#])
        let category = try await cluster.psql(
            "SELECT count(*) FROM get_category_messages('bankAccount')", database: database, user: "message_store")
        #expect(category.trimmingCharacters(in: .whitespacesAndNewlines) == "2")
        #expect(
            try await cluster.psql("SELECT stream_version('bankAccount:command-o1')", database: database, user: "message_store")
                .trimmingCharacters(in: .whitespacesAndNewlines) == "0")
    }

    @Test("thalo serve as the message_store role without the registry names the command to run, and starts after it")
    func roleNeedsInstall() async throws {
        let cluster = try await OfficialMessageDB.shared.cluster()
        let url = try await OfficialMessageDB.shared.freshDatabase(as: .role, installRegistry: false)
        let database = Self.databaseName(of: url)
        var failure = ""
        do {
            let server = try await ServerProcess(["--database-url", url])
            await server.stop()
            Issue.record("thalo serve started as message_store without a registry")
        } catch let error as HarnessError {
            failure = error.description
        }
        #expect(failure.contains("error:"), "\(failure)")
        #expect(failure.contains("thalo.modules is missing and role message_store may not create it"), "\(failure)")
        #expect(
            failure.contains(
                "thalo db install --database-url postgres://ADMIN@127.0.0.1:\(cluster.port)/\(database) --grant-to message_store"),
            "\(failure)")

        let installed = try await ThaloBinary.run(["db", "install", "--database-url", cluster.url(database: database)])
        #expect(installed.status == 0, "\(installed.combined)")
        #expect(
            installed.standardOutput.contains("message_store 1.3.0 is already installed; nothing changed there"), "\(installed.combined)")
        #expect(installed.standardOutput.contains("roles that may use it: message_store"), "\(installed.combined)")
        // A role that does not exist is a bad argument (exit 2), not an unreachable database.
        let badRole = try await ThaloBinary.run([
            "db", "install", "--database-url", cluster.url(database: database), "--grant-to", "no_such_role",
        ])
        #expect(badRole.status == 2, "\(badRole.combined)")
        #expect(badRole.standardError.contains("no_such_role"), "\(badRole.combined)")

        let server = try await ServerProcess(["--database-url", url])
        defer { server.kill() }
        let health = try await HTTP.get("\(server.url)/health")
        #expect(health.status == 200)
        try await PostgresProcessTests.publishBankAccount(to: server)
        let modules = try await ThaloBinary.run(["modules", "--url", server.url])
        #expect(modules.status == 0)
        #expect(modules.standardOutput.contains("BankAccount"), "\(modules.combined)")
    }
}
