import Foundation
import JSON
import TestSupport
import Testing

/// The real `thalo serve` process driven by the real `thalo` CLI binary.
@Suite("End to end: thalo serve and the thalo CLI", .serialized)
struct ServerProcessTests {
    @Test("publish, execute, submit, read, errors for bad input, token enforced")
    func cliAgainstServer() async throws {
        let data = try temporaryFolder("e2e")
        let server = try await ServerProcess(["--data-dir", data.path, "--token", "s3cret"])
        let url = ["--url", server.url]
        let token = ["--token", "s3cret"]

        let build = try await ThaloBinary.run([
            "build", "Examples/bank_account", "--output", data.appendingPathComponent("build").path, "--json",
        ])
        #expect(build.status == 0, "\(build.combined)")
        let built = try JSONValue(parsing: build.standardOutput)
        let module = try #require(built["module"]?.stringValue)
        #expect(built["size"]?.integerValue ?? 0 > 1_000)

        let unauthorized = try await ThaloBinary.run(["publish", "Examples/bank_account/bank_account.esdl", module] + url)
        #expect(unauthorized.status == 8, "\(unauthorized.combined)")
        #expect(unauthorized.standardError.contains("bearer token"))
        let wrongToken = try await ThaloBinary.run(["publish", "Examples/bank_account/bank_account.esdl", module, "--token", "nope"] + url)
        #expect(wrongToken.status == 8)
        let published = try await ThaloBinary.run(["publish", "Examples/bank_account/bank_account.esdl", module] + url + token)
        #expect(published.status == 0, "\(published.combined)")
        #expect(published.standardOutput.contains("published BankAccount 0.1.0"))
        // The same module again is a retry; another module under the same version is refused.
        let again = try await ThaloBinary.run(["publish", "Examples/bank_account/bank_account.esdl", module] + url + token)
        #expect(again.status == 0, "\(again.combined)")
        let other = data.appendingPathComponent("other.wasm")
        try (try Data(contentsOf: URL(fileURLWithPath: module)) + [0]).write(to: other)
        let taken = try await ThaloBinary.run(["publish", "Examples/bank_account/bank_account.esdl", other.path] + url + token)
        #expect(taken.status == 6, "\(taken.combined)")
        #expect(taken.standardError.contains("not newer"), "\(taken.combined)")

        let modules = try await ThaloBinary.run(["modules", "--json"] + url + token)
        #expect(try JSONValue(parsing: modules.standardOutput)["modules"]?.arrayValue?.count == 1)

        let noToken = try await ThaloBinary.run(["execute", "BankAccount", "1", "open_account", #"{"initial_balance": 100}"#] + url)
        #expect(noToken.status == 8)
        let opened = try await ThaloBinary.run(
            ["execute", "BankAccount", "1", "open_account", #"{"initial_balance": 100}"#, "--json"] + url + token)
        #expect(opened.status == 0, "\(opened.combined)")
        let openedJSON = try JSONValue(parsing: opened.standardOutput)
        #expect(openedJSON["outcome"] == "recorded")
        #expect(openedJSON["events"]?.arrayValue?.first?["type"] == "OpenedAccount")

        let human = try await ThaloBinary.run(["execute", "BankAccount", "1", "deposit_funds", #"{"amount": 50}"#] + url + token)
        #expect(human.status == 0)
        #expect(human.standardOutput.contains("recorded 1 event on bankAccount-1"))
        #expect(human.standardOutput.contains("DepositedFunds"))

        let overdraft = try await ThaloBinary.run(["execute", "BankAccount", "1", "withdraw_funds", #"{"amount": 500}"#] + url + token)
        #expect(overdraft.status == 4)
        #expect(overdraft.standardError.contains("rejected by BankAccount 0.1.0: insufficient funds"))
        let badPayload = try await ThaloBinary.run(["execute", "BankAccount", "1", "deposit_funds", #"{"amount": "ten"}"#] + url + token)
        #expect(badPayload.status == 2)
        #expect(badPayload.standardError.contains("amount: expected Int"))
        let notJSON = try await ThaloBinary.run(["execute", "BankAccount", "1", "deposit_funds", "{amount: 1}"] + url + token)
        #expect(notJSON.status == 2)
        #expect(notJSON.standardError.contains("not valid JSON"))
        let unknownCommand = try await ThaloBinary.run(["execute", "BankAccount", "1", "close", "{}"] + url + token)
        #expect(unknownCommand.status == 5)
        let unknownAggregate = try await ThaloBinary.run(["execute", "Rocket", "1", "launch", "{}"] + url + token)
        #expect(unknownAggregate.status == 5)

        let commandID = UUID().uuidString
        let first = try await ThaloBinary.run(
            ["execute", "BankAccount", "1", "withdraw_funds", #"{"amount": 30}"#, "--command-id", commandID, "--json"] + url + token)
        let repeated = try await ThaloBinary.run(
            ["execute", "BankAccount", "1", "withdraw_funds", #"{"amount": 30}"#, "--command-id", commandID, "--json"] + url + token)
        #expect(try JSONValue(parsing: first.standardOutput)["outcome"] == "recorded")
        #expect(try JSONValue(parsing: repeated.standardOutput)["outcome"] == "duplicate")

        let submitted = try await ThaloBinary.run(
            ["submit", "BankAccount", "1", "deposit_funds", "-", "--json"] + url + token, input: #"{"amount": 5}"#)
        #expect(submitted.status == 0, "\(submitted.combined)")
        #expect(try JSONValue(parsing: submitted.standardOutput)["streamName"] == "bankAccount:command-1")
        var events: [JSONValue] = []
        let deadline = ContinuousClock.now + .seconds(120)
        while events.count < 4 && ContinuousClock.now < deadline {
            let read = try await ThaloBinary.run(["streams", "read", "bankAccount-1", "--json"] + url + token)
            events = try JSONValue(parsing: read.standardOutput)["messages"]?.arrayValue ?? []
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(events.map { $0["type"]?.stringValue ?? "" } == ["OpenedAccount", "DepositedFunds", "WithdrewFunds", "DepositedFunds"])

        let entity = try await ThaloBinary.run(["entity", "BankAccount", "1", "--json"] + url + token)
        #expect(try JSONValue(parsing: entity.standardOutput)["state"] == ["open": true, "balance": 125])
        let past = try await ThaloBinary.run(["entity", "BankAccount", "1", "--position", "1", "--json"] + url + token)
        #expect(try JSONValue(parsing: past.standardOutput)["state"] == ["open": true, "balance": 150])

        let tail = try await ThaloBinary.run(["streams", "tail", "bankAccount", "--from-start", "--count", "3", "--json"] + url + token)
        #expect(tail.status == 0, "\(tail.combined)")
        #expect(tail.standardOutput.split(separator: "\n").count == 3)

        let category = try await ThaloBinary.run(["streams", "read", "bankAccount"] + url + token)
        #expect(category.standardOutput.contains("bankAccount-1"))

        // Reads need the token too.
        let unauthorizedRead = try await ThaloBinary.run(["streams", "read", "bankAccount-1"] + url)
        #expect(unauthorizedRead.status == 8, "\(unauthorizedRead.combined)")
        let noEvents = try await ThaloBinary.run(["entity", "BankAccount", "999"] + url + token)
        #expect(noEvents.status == 5, "\(noEvents.combined)")
        #expect(noEvents.standardError.contains("has no events"), "\(noEvents.combined)")
        let emptyID = try await ThaloBinary.run(["execute", "BankAccount", "", "open_account", "{}"] + url + token)
        #expect(emptyID.status == 64, "\(emptyID.combined)")
        #expect(emptyID.standardError.contains("the entity id is empty"), "\(emptyID.combined)")

        #expect(await server.stop() == 0, "\(server.process.output)")
        #expect(server.process.output.contains("Thalo is running on \(server.url)"))

        let down = try await ThaloBinary.run(["modules"] + url)
        #expect(down.status == 3)
        #expect(down.standardError.contains("start it with `thalo serve`"))
        #expect(down.standardError.contains("connection refused"), "\(down.combined)")
        let unknownHost = try await ThaloBinary.run(["modules", "--url", "http://nonexistent.invalid:7878"])
        #expect(unknownHost.status == 3 && unknownHost.standardError.contains("unknown host"), "\(unknownHost.combined)")
        let notAURL = try await ThaloBinary.run(["modules", "--url", "localhost"])
        #expect(notAURL.status == 2 && notAURL.standardError.contains("invalid server URL"), "\(notAURL.combined)")
    }

    @Test("local tools: new, build, test and generate work without a server, with clear errors")
    func localTools() async throws {
        let folder = try temporaryFolder("new")
        let created = try await ThaloBinary.run(["new", "ShoppingCart", "--directory", folder.path])
        #expect(created.status == 0, "\(created.combined)")
        let project = folder.appendingPathComponent("shopping_cart").path
        let tested = try await ThaloBinary.run(["test", project])
        #expect(tested.status == 0, "\(tested.combined)")
        #expect(tested.standardOutput.contains("scenarios passed"))
        let generated = try await ThaloBinary.run(["generate", "Examples/bank_account/bank_account.esdl"])
        #expect(generated.status == 0)
        #expect(generated.standardOutput.contains("protocol BankAccountAggregate"))
        let host = try await ThaloBinary.run(["generate", "--format", "host", "Examples/bank_account/bank_account.esdl"])
        #expect(host.status == 0, "\(host.combined)")
        #expect(host.standardOutput.contains("struct DepositedFunds"))
        #expect(host.standardOutput.contains("Codable"))
        // `thalo generate … | head` after head has gone: the CLI ends as on SIGPIPE, quietly.
        let piped = try await ProcessRunner.outputToClosedPipe(
            ThaloBinary.path, ["generate", "Examples/bank_account/bank_account.esdl"],
            currentDirectory: ExampleModules.repositoryRoot.path)
        #expect(piped.status == 128 + SIGPIPE, "\(piped.combined)")
        #expect(!piped.standardError.contains("Fatal error"), "\(piped.standardError)")
        let jsonSchema = try await ThaloBinary.run(["generate", "--format", "json-schema", "Examples/bank_account/bank_account.esdl"])
        #expect(jsonSchema.status == 0, "\(jsonSchema.combined)")
        #expect(try JSONValue(parsing: jsonSchema.standardOutput)["$schema"] != nil)
        let unknownFormat = try await ThaloBinary.run(["generate", "--format", "rust", "Examples/bank_account/bank_account.esdl"])
        #expect(unknownFormat.status == 64)
        #expect(unknownFormat.standardError.contains("'rust' is invalid for '--format <format>'"), "\(unknownFormat.combined)")
        let broken = folder.appendingPathComponent("broken.esdl")
        try "version = \"1.0\"\naggregate A {\n  go(x: Integer) -> Gone\n}\n".write(to: broken, atomically: true, encoding: .utf8)
        let diagnostics = try await ThaloBinary.run(["generate", broken.path])
        #expect(diagnostics.status == 2)
        #expect(diagnostics.standardError.contains("broken.esdl:1:"))
        #expect(diagnostics.standardError.contains("unknown type 'Integer'"))
        #expect(diagnostics.standardError.hasPrefix("\(broken.path):1:"), "printed like a compiler, not after `error: `")
        let missing = try await ThaloBinary.run(["build", folder.appendingPathComponent("nothing").path])
        #expect(missing.status == 2)
        let help = try await ThaloBinary.run(["--help"])
        #expect(help.standardOutput.contains("execute"))
        #expect(help.standardOutput.contains("Exit codes"))

        let rust = try await ThaloBinary.run(["new", "Tally", "--lang", "rust", "--directory", folder.path])
        #expect(rust.status == 0, "\(rust.combined)")
        let rustTested = try await ThaloBinary.run(["test", folder.appendingPathComponent("tally").path])
        #expect(rustTested.status == 0, "\(rustTested.combined)")
        #expect(rustTested.standardOutput.contains("5 of 5 scenarios passed"))
        let rustCode = try await ThaloBinary.run(["generate", "--lang", "rust", "Examples/bank_account/bank_account.esdl"])
        #expect(rustCode.standardOutput.contains("pub trait BankAccountAggregate: Sized {"))
        let rustHost = try await ThaloBinary.run([
            "generate", "--lang", "rust", "--format", "host", "Examples/bank_account/bank_account.esdl",
        ])
        #expect(rustHost.status == 2)
        #expect(rustHost.standardError.contains("--lang rust applies to the guest code only"))
    }

    @Test("publish refuses a version that cannot take over the stored history (exit 6, what breaks); --force and modules activate")
    func safeDeploys() async throws {
        let data = try temporaryFolder("e2e-deploys")
        let server = try await ServerProcess(["--data-dir", data.path])
        let url = ["--url", server.url]
        let build = try await ThaloBinary.run(
            ["build", "Tests/Fixtures/misbehaving", "--output", data.appendingPathComponent("build").path, "--json"])
        #expect(build.status == 0, "\(build.combined)")
        let module = try #require(try JSONValue(parsing: build.standardOutput)["module"]?.stringValue)
        let schema = try String(contentsOfFile: "Tests/Fixtures/misbehaving/misbehaving.esdl", encoding: .utf8)
        #expect(try await ThaloBinary.run(["publish", "Tests/Fixtures/misbehaving/misbehaving.esdl", module] + url).status == 0)
        #expect(try await ThaloBinary.run(["execute", "Misbehaving", "s", "pair_ok", "{}"] + url).status == 0)

        let next = data.appendingPathComponent("misbehaving.esdl")
        try schema.replacingOccurrences(of: "version = \"0.1.0\"", with: "version = \"0.2.0\"")
            .replacingOccurrences(of: "event Done {\n  n: Int\n}", with: "event Done {\n  n: String\n}")
            .write(to: next, atomically: true, encoding: .utf8)
        let refused = try await ThaloBinary.run(["publish", next.path, module] + url)
        #expect(refused.status == 6, "\(refused.combined)")
        #expect(refused.standardError.contains("cannot take over the stored history of misbehaving"))
        #expect(refused.standardError.contains("\n  Done.n changed from Int to String; stored values may not fit"))
        let forced = try await ThaloBinary.run(["publish", next.path, module, "--force", "--compare"] + url)
        #expect(forced.status == 0, "\(forced.combined)")
        #expect(forced.standardOutput.contains("published Misbehaving 0.2.0"))
        #expect(forced.standardOutput.contains("checked: replayed 1 of 1 streams (2 events)"))
        #expect(forced.standardOutput.contains("\n  stored event types: Done, Other\n"))
        #expect(forced.standardOutput.contains("schema: Done.n changed from Int to String"))

        // Rolling back is checked the same way: 0.1.0 cannot read what 0.2.0 may have written.
        let rollback = try await ThaloBinary.run(["modules", "activate", "Misbehaving", "0.1.0"] + url)
        #expect(rollback.status == 6, "\(rollback.combined)")
        #expect(rollback.standardError.contains("Done.n changed from String to Int"))
        let forcedRollback = try await ThaloBinary.run(["modules", "activate", "Misbehaving", "0.1.0", "--force"] + url)
        #expect(forcedRollback.status == 0, "\(forcedRollback.combined)")
        #expect(forcedRollback.standardOutput.contains("running Misbehaving 0.1.0"))
        let listed = try await ThaloBinary.run(["modules", "Misbehaving", "--json"] + url)
        let versions = try JSONValue(parsing: listed.standardOutput)["modules"]?.arrayValue ?? []
        #expect(versions.map { $0["active"] == true } == [true, false])
        let unknown = try await ThaloBinary.run(["modules", "activate", "Misbehaving", "7.0.0"] + url)
        #expect(unknown.status == 5, "\(unknown.combined)")
    }
    @Test("serve --snapshot-every: snapshots of a C module are written, readable with streams read, and used after a restart")
    func snapshots() async throws {
        let data = try temporaryFolder("e2e-snapshots")
        var server = try await ServerProcess(["--data-dir", data.path, "--snapshot-every", "3"])
        let build = try await ThaloBinary.run([
            "build", "Examples/c_counter", "--output", data.appendingPathComponent("build").path, "--json",
        ])
        #expect(build.status == 0, "\(build.combined)")
        let module = try #require(try JSONValue(parsing: build.standardOutput)["module"]?.stringValue)
        #expect(try await ThaloBinary.run(["publish", "Examples/c_counter/counter.esdl", module, "--url", server.url]).status == 0)
        for _ in 1...7 {
            let executed = try await ThaloBinary.run(["execute", "Counter", "1", "increment", #"{"amount":2}"#, "--url", server.url])
            #expect(executed.status == 0, "\(executed.combined)")
        }
        // Positions 0…6: snapshots at the third and sixth event, written after the answers.
        var snapshots: [JSONValue] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while snapshots.count < 2 && ContinuousClock.now < deadline {
            let read = try await ThaloBinary.run(["streams", "read", "counter:snapshot-1", "--json", "--url", server.url])
            snapshots = try JSONValue(parsing: read.standardOutput)["messages"]?.arrayValue ?? []
            if snapshots.count < 2 { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(snapshots.count == 2)
        for snapshot in snapshots {
            #expect(snapshot["type"] == "Recorded")
            let position = try #require(snapshot["data"]?["position"]?.integerValue)
            #expect(snapshot["data"]?["state"]?["count"]?.integerValue == (position + 1) * 2, "\(snapshot)")
        }
        #expect(await server.stop() == 0)

        // A new process loads the entity from the latest snapshot and the event after it.
        server = try await ServerProcess(["--data-dir", data.path, "--snapshot-every", "3"])
        let executed = try await ThaloBinary.run(["execute", "Counter", "1", "increment", #"{"amount":1}"#, "--url", server.url, "--json"])
        #expect(executed.status == 0, "\(executed.combined)")
        #expect(executed.standardOutput.contains(#""count":15"#), "\(executed.standardOutput)")
        let metrics = try await HTTP.get("\(server.url)/metrics")
        #expect(metrics.text.contains(#"thalo_snapshots_restored_total{aggregate="Counter"} 1"#), "\(metrics.text)")
        #expect(await server.stop() == 0)
    }

    @Test("serve --examples builds the examples into the data folder and publishes them; their commands count in /metrics")
    func examples() async throws {
        let folder = try temporaryFolder("examples")
        let examples = folder.appendingPathComponent("examples")
        try FileManager.default.createDirectory(at: examples, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            at: ExampleModules.repositoryRoot.appendingPathComponent("Examples/bank_account"),
            to: examples.appendingPathComponent("bank_account"))
        let data = folder.appendingPathComponent("data")
        let server = try await ServerProcess(["--data-dir", data.path, "--examples", "--examples-dir", examples.path])
        let health = try await HTTP.get("\(server.url)/health")
        #expect(health.json["aggregates"]?["BankAccount"]?.stringValue == "0.1.0", "\(health.text)")
        #expect(FileManager.default.fileExists(atPath: data.appendingPathComponent("examples/bank_account.wasm").path))
        let opened = try await HTTP.post("\(server.url)/v1/execute/BankAccount/1/open_account", ["initial_balance": 100])
        #expect(opened.status == 200, "\(opened.text)")
        // Published before the server listened: the runtime's metrics still reach /metrics.
        let metrics = try await HTTP.get("\(server.url)/metrics")
        #expect(metrics.text.contains(#"thalo_commands_handled_total{aggregate="BankAccount"} 1"#), "\(metrics.text)")
        #expect(await server.stop() == 0)
        #expect(server.process.output.contains("Published examples: BankAccount 0.1.0"), "\(server.process.output)")
    }

    @Test("serve with a database nobody listens on says which and exits 3")
    func databaseUnreachable() async throws {
        let port = try TemporaryPostgres.freePort()
        let serve = try await ThaloBinary.run(
            [
                "serve", "--database-url", "postgres://thalo@127.0.0.1:\(port)/thalo", "--listen",
                "127.0.0.1:\(try TemporaryPostgres.freePort())",
            ])
        #expect(serve.status == 3, "\(serve.combined)")
        #expect(serve.standardError.contains("127.0.0.1:\(port)"), "\(serve.combined)")
    }

    @Test("serve on an address another server listens on says so, names the address and exits 1; the other server goes on")
    func addressInUse() async throws {
        let first = try await ServerProcess(["--data-dir", try temporaryFolder("listening").path])
        defer { first.kill() }
        let second = try await ThaloBinary.run(
            ["serve", "--listen", "127.0.0.1:\(first.port)", "--data-dir", try temporaryFolder("second").path])
        #expect(second.status == 1, "\(second.combined)")
        #expect(
            second.combined.contains("cannot listen on 127.0.0.1:\(first.port): the address is in use (another process listens there)"),
            "\(second.combined)")
        #expect(try await HTTP.get("\(first.url)/health").status == 200)
    }
}
