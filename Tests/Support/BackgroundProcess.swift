import Foundation
import Subprocess
import Synchronization

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// A program started in the background through swift-subprocess, its output (both streams)
/// appended to a file.
public final class BackgroundProcess: Sendable {
    /// The process id.
    public let pid: pid_t
    /// Where its standard output and error go.
    public let logPath: String
    /// The exit status once it ended: the code, or 128 + the signal.
    private let exitStatus: ExitStatus
    private let execution: Task<Int32, Never>

    /// Starts `executable` (a path, or a name on `PATH`) and returns once it is running.
    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, logPath: String) async throws {
        let log = try FileDescriptor.open(
            FilePath(logPath), .writeOnly, options: [.create, .append], permissions: [.ownerReadWrite, .groupRead, .otherRead])
        let (started, continuation) = AsyncStream<Result<pid_t, any Error>>.makeStream()
        let exitStatus = ExitStatus()
        execution = Task {
            do {
                let result = try await Subprocess.run(
                    ProcessRunner.executable(executable), arguments: Arguments(arguments),
                    environment: ProcessRunner.environment(environment), input: .none,
                    output: .fileDescriptor(log, closeAfterSpawningProcess: true), error: .combinedWithOutput
                ) { execution in
                    continuation.yield(.success(execution.processIdentifier.value))
                }
                let status = ProcessRunner.status(result.terminationStatus)
                exitStatus.set(status)
                return status
            } catch {
                continuation.yield(.failure(error))
                exitStatus.set(127)
                return 127
            }
        }
        var launched: Result<pid_t, any Error>?
        for await result in started {
            launched = result
            break
        }
        self.pid = try launched!.get()
        self.logPath = logPath
        self.exitStatus = exitStatus
    }

    /// Sends a signal (SIGTERM by default) while the process runs.
    public func signal(_ signal: Int32 = SIGTERM) {
        if isRunning { kill(pid, signal) }
    }

    /// Waits for the process to end and returns its exit status (128 + signal when killed).
    @discardableResult
    public func wait() async -> Int32 {
        await execution.value
    }

    /// Whether the process is still running.
    public var isRunning: Bool {
        exitStatus.value == nil
    }

    /// What it has printed so far.
    public var output: String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    deinit {
        if isRunning { kill(pid, SIGKILL) }
    }
}

/// The exit status of a background process, set once it ended.
private final class ExitStatus: Sendable {
    private let status = Mutex<Int32?>(nil)
    var value: Int32? { status.withLock { $0 } }
    func set(_ value: Int32) { status.withLock { $0 = value } }
}
