import Foundation
import JSON
import TestSupport
import Testing

/// schemathesis (PyPI), a property-based API tester nobody here wrote, against the real
/// `thalo serve` and its `/openapi.json`: every check, every phase, the event stream
/// included. A failure prints schemathesis's report with a `curl` line to reproduce it.
@Suite("End to end: schemathesis against the OpenAPI document", .serialized)
struct SchemathesisTests {
    @Test("schemathesis reports no failure with every check and phase")
    func schemathesis() async throws {
        let st = try await PythonEnvironment.shared.schemathesis()
        let data = try temporaryFolder("schemathesis")
        let server = try await ServerProcess(["--data-dir", data.path, "--token", "st-token"])
        defer { server.kill() }
        // A published aggregate, so that operations reach the runtime and not only 404s.
        try await server.publishBankAccount(into: data, token: "st-token")
        let examples = ProcessInfo.processInfo.environment["THALO_SCHEMATHESIS_EXAMPLES"] ?? "25"
        // One worker: with two threads, CPython 3.11's `ast` module can fail with "AST
        // constructor recursion depth mismatch" inside hypothesis (seen here once; the
        // recursion counter is not per thread), an error of the tool, not of the server.
        let config = ExampleModules.repositoryRoot.appendingPathComponent("Tests/schemathesis.toml").path
        let run = try await ProcessRunner.output(
            st,
            [
                "--config-file", config, "run", "\(server.url)/openapi.json", "--checks", "all",
                "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", examples, "--seed", "20261130",
                "--header", "Authorization: Bearer st-token", "--request-timeout", "60", "--workers", "1", "--no-color",
            ],
            environment: ["NO_COLOR": "1", "HOME": data.path], currentDirectory: data.path)
        #expect(run.status == 0, "schemathesis failed:\n\(run.combined)")
        #expect(run.combined.contains("No issues found") || run.combined.contains("passed"), "\(run.combined)")
        // The server survived everything schemathesis sent.
        let health = try await HTTP.get("\(server.url)/health")
        #expect(health.status == 200)
    }
}
