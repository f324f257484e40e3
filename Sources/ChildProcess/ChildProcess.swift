import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs programs with `posix_spawn` and collects what they print.
///
/// Foundation's `Process` is unreliable when many processes are started from concurrent
/// tasks on Linux; this small runner has no shared state: each call spawns, pumps the
/// pipes with `poll`, and reaps the child with `waitpid`.
public enum ChildProcess {
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

    /// Why a program could not be started.
    public struct LaunchError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Runs `executable` with `arguments` and waits for it to finish.
    ///
    /// - Parameters:
    ///   - executable: an absolute path, or a name looked up on `PATH`.
    ///   - environment: variables added to (or replacing) this process's environment.
    ///   - currentDirectory: where the program runs; this process's folder when nil.
    ///   - input: text written to the program's standard input (empty input when nil).
    @discardableResult
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        currentDirectory: String? = nil, input: String? = nil
    ) throws(LaunchError) -> Output {
        guard let path = resolve(executable) else {
            throw LaunchError(description: "cannot find the program \(executable) (looked on PATH)")
        }
        var stdoutPipe: [Int32] = [-1, -1]
        var stderrPipe: [Int32] = [-1, -1]
        var stdinPipe: [Int32] = [-1, -1]
        guard pipe(&stdoutPipe) == 0, pipe(&stderrPipe) == 0, pipe(&stdinPipe) == 0 else {
            throw LaunchError(description: "cannot create pipes: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)
        for descriptor in stdinPipe + stdoutPipe + stderrPipe {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }
        let environmentList = ChildProcess.environment(overriding: environment)

        // posix_spawn has no portable "change directory" action: let the shell do it.
        let command = currentDirectory.map { ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", $0, path] } ?? [path]
        let launched = command[0]
        let argv = (command + arguments).map { strdup($0) } + [nil]
        let envp = environmentList.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, launched, &actions, nil, argv, envp)
        close(stdinPipe[0])
        close(stdoutPipe[1])
        close(stderrPipe[1])
        guard spawned == 0 else {
            close(stdinPipe[1])
            close(stdoutPipe[0])
            close(stderrPipe[0])
            throw LaunchError(description: "cannot start \(path): \(String(cString: strerror(spawned)))")
        }
        let (output, error) = pump(input: Array((input ?? "").utf8), stdin: stdinPipe[1], stdout: stdoutPipe[0], stderr: stderrPipe[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exitStatus: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Output(
            status: exitStatus, standardOutput: String(decoding: output, as: UTF8.self),
            standardError: String(decoding: error, as: UTF8.self))
    }

    /// Runs a program like ``run(_:_:environment:currentDirectory:input:)``, on a thread of
    /// its own, so that waiting for it never blocks a Swift concurrency thread.
    public static func output(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        currentDirectory: String? = nil, input: String? = nil
    ) async throws(LaunchError) -> Output {
        let result: Result<Output, LaunchError> = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(
                    returning: Result { () throws(LaunchError) in
                        try run(executable, arguments, environment: environment, currentDirectory: currentDirectory, input: input)
                    })
            }
        }
        return try result.get()
    }

    /// The absolute path of a program, looking on `PATH` for bare names.
    /// This process's environment with `overrides` applied, for a child.
    static func environment(overriding overrides: [String: String]?) -> [String: String] {
        var variables: [String: String] = [:]
        var index = 0
        while let entry = environ[index] {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                variables[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            index += 1
        }
        for (key, value) in overrides ?? [:] { variables[key] = value }
        return variables
    }

    public static func resolve(_ name: String) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":") {
            let candidate = "\(folder)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Writes `input` and reads both outputs until the child closes them.
    private static func pump(input: [UInt8], stdin: Int32, stdout: Int32, stderr: Int32) -> ([UInt8], [UInt8]) {
        var output: [UInt8] = []
        var error: [UInt8] = []
        var written = 0
        var inputOpen = true
        if input.isEmpty {
            close(stdin)
            inputOpen = false
        } else {
            _ = fcntl(stdin, F_SETFL, fcntl(stdin, F_GETFL) | O_NONBLOCK)
        }
        var stdoutOpen = true
        var stderrOpen = true
        var buffer = [UInt8](repeating: 0, count: 65536)
        while stdoutOpen || stderrOpen || inputOpen {
            var fds: [pollfd] = []
            if stdoutOpen { fds.append(pollfd(fd: stdout, events: Int16(POLLIN), revents: 0)) }
            if stderrOpen { fds.append(pollfd(fd: stderr, events: Int16(POLLIN), revents: 0)) }
            if inputOpen { fds.append(pollfd(fd: stdin, events: Int16(POLLOUT), revents: 0)) }
            let ready = poll(&fds, nfds_t(fds.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            for entry in fds where entry.revents != 0 {
                if entry.fd == stdin {
                    let count = input.withUnsafeBytes { raw in
                        write(stdin, raw.baseAddress! + written, input.count - written)
                    }
                    if count > 0 { written += count }
                    if count < 0 && errno != EAGAIN && errno != EINTR || written >= input.count {
                        close(stdin)
                        inputOpen = false
                    }
                    continue
                }
                let count = buffer.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress!, 65536) }
                if count > 0 {
                    if entry.fd == stdout { output += buffer[0..<count] } else { error += buffer[0..<count] }
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    close(entry.fd)
                    if entry.fd == stdout { stdoutOpen = false } else { stderrOpen = false }
                }
            }
        }
        return (output, error)
    }
}

/// A program started in the background, its output going to a file.
public final class BackgroundProcess: Sendable {
    /// The process id.
    public let pid: pid_t
    /// Where its standard output and error go.
    public let logPath: String
    /// The exit status, once reaped (by ``wait()`` or ``isRunning``).
    private let exitStatus = Mutex<Int32?>(nil)

    /// Starts `executable`; its output (both streams) is appended to `logPath`.
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, logPath: String
    ) throws(ChildProcess.LaunchError) {
        guard let path = ChildProcess.resolve(executable) else {
            throw ChildProcess.LaunchError(description: "cannot find the program \(executable) (looked on PATH)")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let environmentList = ChildProcess.environment(overriding: environment)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environmentList.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard spawned == 0 else {
            throw ChildProcess.LaunchError(description: "cannot start \(path): \(String(cString: strerror(spawned)))")
        }
        self.pid = pid
        self.logPath = logPath
    }

    /// Sends a signal (SIGTERM by default).
    public func signal(_ signal: Int32 = SIGTERM) {
        kill(pid, signal)
    }

    /// Waits for the process to end and returns its exit status (128 + signal when killed).
    @discardableResult
    public func wait() -> Int32 {
        if let status = exitStatus.withLock({ $0 }) { return status }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return exitStatus.withLock { reaped in
            if let reaped { return reaped }
            reaped = Self.decode(status)
            return reaped!
        }
    }

    /// Whether the process is still running (reaping it, and keeping its status, when it ended).
    public var isRunning: Bool {
        exitStatus.withLock { reaped in
            guard reaped == nil else { return false }
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { return true }
            reaped = Self.decode(status)
            return false
        }
    }

    private static func decode(_ status: Int32) -> Int32 {
        (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// What it has printed so far.
    public var output: String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }
}
