import Foundation
import TestSupport
import Testing

/// The console in a real browser: Debian's headless Chromium driven by Playwright (PyPI)
/// through `Tests/Console/console_browser.py`, against the real `thalo serve` with a token.
/// Set `THALO_CONSOLE_SCREENSHOTS` to a folder to keep the screenshots (docs/console has
/// the committed ones).
@Suite("End to end: the console in headless Chromium", .serialized)
struct ConsoleBrowserTests {
    @Test("token, modules, schema, category live, stream search, entity time travel, command form, rejections, cluster")
    func console() async throws {
        let chromium = ProcessInfo.processInfo.environment["THALO_CHROMIUM"] ?? "/usr/bin/chromium"
        try #require(
            FileManager.default.isExecutableFile(atPath: chromium), "no Chromium at \(chromium): scripts/bootstrap installs Debian's")
        let python = try await PythonEnvironment.shared.playwright()
        let data = try temporaryFolder("console")
        let server = try await ServerProcess(["--data-dir", data.path, "--token", "console-token"])
        defer { server.kill() }
        try await server.publishBankAccount(into: data, token: "console-token")
        let connection = ["--url", server.url, "--token", "console-token"]
        for (command, payload) in [("open_account", #"{"initial_balance": 100}"#), ("deposit_funds", #"{"amount": 50}"#)] {
            let executed = try await ThaloBinary.run(["execute", "BankAccount", "a1", command, payload] + connection)
            #expect(executed.status == 0, "\(executed.combined)")
        }
        let shots = ProcessInfo.processInfo.environment["THALO_CONSOLE_SCREENSHOTS"] ?? data.path
        let script = ExampleModules.repositoryRoot.appendingPathComponent("Tests/Console/console_browser.py").path
        let run = try await ProcessRunner.output(
            python, [script, server.url, "console-token", shots], environment: ["THALO_CHROMIUM": chromium])
        try #require(run.status == 0, "the browser run failed:\n\(run.combined)\n\nserver log:\n\(server.process.output)")
        for step in [
            "modules listed after the token was asked for", "the token is kept for the session", "the schema is rendered",
            "a category is browsed and followed live", "a stream is found by name",
            "the slider shows the state at position 0, then 1", "a command from the form records an event that appears in the timeline",
            "validation errors (the browser's and the server's) are shown at the field", "a rejection is shown inline and writes nothing",
            "an event written by another client arrives live", "the cluster page lists this node",
            "forms for custom types, optionals, arrays and Longs build the exact payload",
        ] {
            #expect(run.standardOutput.contains("ok: \(step)"), "missing step: \(step)")
        }
        #expect(FileManager.default.fileExists(atPath: "\(shots)/console-entity.png"))
    }
}
