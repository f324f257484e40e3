import Foundation
import Subprocess

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// Runs programs for tests and benchmarks, through swift-subprocess.
public enum ProcessRunner {
    /// The result of a finished program.
    public struct Output: Sendable {
        /// The exit status, or 128 + the signal number when it was killed by a signal.
        public var status: Int32
        public var standardOutput: String
        public var standardError: String

        /// Both streams, for error messages.
        public var combined: String {
            standardError.isEmpty ? standardOutput : standardOutput + (standardOutput.isEmpty ? "" : "\n") + standardError
        }
    }

    /// Runs `executable` (a path, or a name looked up on `PATH`) with `arguments`, waits for
    /// it, and returns what it printed.
    ///
    /// - Parameters:
    ///   - environment: variables added to (or replacing) this process's environment.
    ///   - currentDirectory: where the program runs; this process's folder when nil.
    ///   - input: text written to the program's standard input (none when nil).
    @discardableResult
    public static func output(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        currentDirectory: String? = nil, input: String? = nil
    ) async throws -> Output {
        let limit = 256 << 20
        let result = try await Subprocess.run(
            Self.executable(executable), arguments: Arguments(arguments), environment: Self.environment(environment),
            workingDirectory: currentDirectory.map { FilePath($0) }, input: .string(input ?? ""), output: .string(limit: limit),
            error: .string(limit: limit))
        return Output(
            status: status(result.terminationStatus), standardOutput: result.standardOutput,
            standardError: result.standardError)
    }

    /// Runs `executable` with its standard output on a pipe whose reader is already gone,
    /// as `… | head` leaves it after `head` has exited; returns the status and standard error.
    public static func outputToClosedPipe(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, currentDirectory: String? = nil
    ) async throws -> Output {
        let pipe = try FileDescriptor.pipe()
        try pipe.readEnd.close()
        let result = try await Subprocess.run(
            Self.executable(executable), arguments: Arguments(arguments), environment: Self.environment(environment),
            workingDirectory: currentDirectory.map { FilePath($0) },
            output: .fileDescriptor(pipe.writeEnd, closeAfterSpawningProcess: true), error: .string(limit: 1 << 20))
        return Output(status: status(result.terminationStatus), standardOutput: "", standardError: result.standardError)
    }

    /// Finds a program on PATH, as ``output(_:_:environment:currentDirectory:input:)`` would.
    public static func which(_ name: String) async -> String? {
        try? await Executable.name(name).resolveExecutablePath(in: .inherit).string
    }

    static func executable(_ name: String) -> Executable {
        name.contains("/") ? .path(FilePath(name)) : .name(name)
    }

    static func environment(_ overrides: [String: String]?) -> Environment {
        var updates: [Environment.Key: String?] = [:]
        for (key, value) in overrides ?? [:] { updates[Environment.Key(stringLiteral: key)] = value }
        return .inherit.updating(updates)
    }

    /// The exit status as a shell reports it: the code, or 128 + the signal.
    static func status(_ status: TerminationStatus) -> Int32 {
        switch status {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
    }
}
