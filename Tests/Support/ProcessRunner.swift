import ChildProcess

/// Runs programs for tests; see ``ChildProcess``.
public enum ProcessRunner {
    public typealias Output = ChildProcess.Output

    /// Runs `executable` with `arguments`, waits for it, and returns its output.
    @discardableResult
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        currentDirectory: String? = nil, input: String? = nil
    ) throws -> Output {
        try ChildProcess.run(executable, arguments, environment: environment, currentDirectory: currentDirectory, input: input)
    }

    /// Runs a program on a thread of its own, so that an async test does not block a
    /// Swift concurrency thread while it waits.
    @discardableResult
    public static func output(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        currentDirectory: String? = nil, input: String? = nil
    ) async throws -> Output {
        try await ChildProcess.output(executable, arguments, environment: environment, currentDirectory: currentDirectory, input: input)
    }

    /// Finds a program on PATH.
    public static func which(_ name: String) -> String? {
        ChildProcess.resolve(name)
    }
}
