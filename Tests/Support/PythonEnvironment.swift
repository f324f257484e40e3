import Foundation

/// A Python virtualenv with software nobody here wrote, from PyPI: `message-db-py` (the
/// Message DB client the interoperability tests use) and `openapi-spec-validator` (which
/// checks the server's OpenAPI document). Made once per machine in a cache folder
/// (`THALO_PYTHON_VENV`, default `/tmp/thalo-python-venv`).
public actor PythonEnvironment {
    public static let shared = PythonEnvironment()

    /// The pinned version of the client under test.
    public static let messageDBPyVersion = "0.3.5"

    /// The pinned version of schemathesis, the API tester run against `/openapi.json`.
    public static let schemathesisVersion = "4.32.5"

    /// The pinned version of Python `eventsourcing`, the peer `scripts/bench` measures.
    public static let eventsourcingVersion = "9.5.6"

    /// The pinned version of Playwright, which drives headless Chromium in the console test.
    public static let playwrightVersion = "1.65.2"

    private var making: Task<String, any Error>?
    /// Pinned packages being installed (or installed), by name: each once per process.
    private var installing: [String: Task<Void, any Error>] = [:]

    /// The virtualenv's python with `eventsourcing` installed (on first use), for the benchmarks.
    public func eventsourcing() async throws -> String {
        try await install("eventsourcing", version: Self.eventsourcingVersion)
    }

    /// The virtualenv's python with Playwright installed (on first use). Playwright's own
    /// browser download is not used: the console test runs Debian's Chromium.
    public func playwright() async throws -> String {
        try await install("playwright", version: Self.playwrightVersion)
    }

    /// The `st` command of schemathesis, installed into the virtualenv on first use.
    public func schemathesis() async throws -> String {
        let python = try await install("schemathesis", version: Self.schemathesisVersion)
        return URL(fileURLWithPath: python).deletingLastPathComponent().appendingPathComponent("st").path
    }

    /// Installs `package==version` into the virtualenv unless that version is there already
    /// (once, however many callers ask at the same time); returns the virtualenv's python.
    private func install(_ package: String, version: String) async throws -> String {
        let python = try await python()
        if let task = installing[package] {
            try await task.value
            return python
        }
        let task = Task<Void, any Error> {
            let check = try? await ProcessRunner.output(python, ["-c", "import importlib.metadata as m; print(m.version('\(package)'))"])
            guard check?.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) != version else { return }
            let pip = URL(fileURLWithPath: python).deletingLastPathComponent().appendingPathComponent("pip").path
            let install = try await ProcessRunner.output(pip, ["install", "--quiet", "\(package)==\(version)"])
            guard install.status == 0 else { throw TemporaryPostgresError("pip install \(package) failed: \(install.combined)") }
        }
        installing[package] = task
        try await task.value
        return python
    }

    /// The virtualenv's python, creating the environment if needed (once, however many
    /// tests ask at the same time).
    public func python() async throws -> String {
        if let making { return try await making.value }
        let task = Task<String, any Error> {
            let folder = ProcessInfo.processInfo.environment["THALO_PYTHON_VENV"] ?? "/tmp/thalo-python-venv"
            let python = folder + "/bin/python"
            let check = try? await ProcessRunner.output(python, ["-c", "import message_db, openapi_spec_validator, jsonschema"])
            if check?.status != 0 {
                let system = await ProcessRunner.which("python3") ?? "/usr/bin/python3"
                let create = try await ProcessRunner.output(system, ["-m", "venv", folder])
                guard create.status == 0 else { throw TemporaryPostgresError("python3 -m venv failed: \(create.combined)") }
                let install = try await ProcessRunner.output(
                    folder + "/bin/pip",
                    [
                        "install", "--quiet", "message-db-py==\(Self.messageDBPyVersion)", "openapi-spec-validator>=0.7,<1",
                        "jsonschema>=4.18,<5",
                    ])
                guard install.status == 0 else { throw TemporaryPostgresError("pip install failed: \(install.combined)") }
            }
            return python
        }
        making = task
        return try await task.value
    }
}
