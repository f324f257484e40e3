import Foundation
import Synchronization

/// A Python virtualenv with software nobody here wrote, from PyPI: `message-db-py` (the
/// Message DB client the interoperability tests use) and `openapi-spec-validator` (which
/// checks the server's OpenAPI document). Made once per machine in a cache folder
/// (`THALO_PYTHON_VENV`, default `/tmp/thalo-python-venv`).
public final class PythonEnvironment: Sendable {
    public static let shared = PythonEnvironment()

    /// The pinned version of the client under test.
    public static let messageDBPyVersion = "0.3.5"

    private let made = Mutex<String?>(nil)

    /// The virtualenv's python, creating the environment if needed.
    public func python() throws -> String {
        try made.withLock { path in
            if let path { return path }
            let folder = ProcessInfo.processInfo.environment["THALO_PYTHON_VENV"] ?? "/tmp/thalo-python-venv"
            let python = folder + "/bin/python"
            let check = try? ProcessRunner.run(python, ["-c", "import message_db, openapi_spec_validator, jsonschema"])
            if check?.status != 0 {
                let system = ProcessRunner.which("python3") ?? "/usr/bin/python3"
                let create = try ProcessRunner.run(system, ["-m", "venv", folder])
                guard create.status == 0 else { throw TemporaryPostgresError("python3 -m venv failed: \(create.combined)") }
                let install = try ProcessRunner.run(
                    folder + "/bin/pip",
                    ["install", "--quiet", "message-db-py==\(Self.messageDBPyVersion)", "openapi-spec-validator>=0.7,<1", "jsonschema>=4.18,<5"])
                guard install.status == 0 else { throw TemporaryPostgresError("pip install message-db-py failed: \(install.combined)") }
            }
            path = python
            return python
        }
    }
}
