import Foundation
import JSON
import TestSupport
import Testing

@Suite("End to end: the count read model against a live server")
struct ReadModelProcessTests {
    @Test("count-read-model follows a running thalo serve's counter events into its table")
    func countReadModel() async throws {
        let data = try temporaryFolder("readmodel")
        let server = try await ServerProcess(["--data-dir", data.appendingPathComponent("store").path])
        defer { server.kill() }
        let built = try await ExampleModules.shared.build("counter")
        let url = ["--url", server.url]
        let published = try await ThaloBinary.run(["publish", "Examples/counter/counter.esdl", built.result.wasmURL.path] + url)
        try #require(published.status == 0, "\(published.combined)")
        #expect(try await ThaloBinary.run(["execute", "Counter", "1", "increment", #"{"amount": 5}"#] + url).status == 0)
        #expect(try await ThaloBinary.run(["execute", "Counter", "2", "increment", #"{"amount": 3}"#] + url).status == 0)
        #expect(try await ThaloBinary.run(["submit", "Counter", "1", "decrement", #"{"amount": 2}"#] + url).status == 0)
        let readModel = URL(fileURLWithPath: ThaloBinary.path).deletingLastPathComponent().appendingPathComponent("count-read-model").path
        let output = data.appendingPathComponent("totals.sqlite").path
        // The submitted command is handled asynchronously: wait for its event.
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            let read = try await ThaloBinary.run(["streams", "read", "counter-1", "--json"] + url)
            if (try JSONValue(parsing: read.standardOutput)["messages"]?.arrayValue?.count ?? 0) == 2 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let run = try await ProcessRunner.output(
            readModel, ["--data-dir", data.appendingPathComponent("store").path, "--output", output, "--until-caught-up"])
        #expect(run.status == 0, "\(run.combined)")
        #expect(run.standardOutput.contains("1\t3\t(2 events)"), "\(run.standardOutput)")
        #expect(run.standardOutput.contains("2\t3\t(1 events)"), "\(run.standardOutput)")
        // A new event, a second run: it resumes from its recorded position.
        #expect(try await ThaloBinary.run(["execute", "Counter", "2", "increment", #"{"amount": 10}"#] + url).status == 0)
        let again = try await ProcessRunner.output(
            readModel, ["--data-dir", data.appendingPathComponent("store").path, "--output", output, "--until-caught-up"])
        #expect(again.standardOutput.contains("2\t13\t(2 events)"), "\(again.standardOutput)")
        let table = try await ProcessRunner.output("sqlite3", [output, "SELECT counter_id, count FROM counter_totals ORDER BY counter_id"])
        #expect(table.standardOutput == "1|3\n2|13\n")
    }
}
