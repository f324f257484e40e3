import Foundation
import Synchronization

/// A throwaway PostgreSQL 15 cluster for tests and benchmarks: created with `initdb` in a
/// temporary folder, listening on a free port on 127.0.0.1, stopped and deleted when the
/// process exits (or when ``stop()`` is called).
///
/// When the process runs as root, the server runs as the `postgres` user (PostgreSQL
/// refuses to run as root).
public final class TemporaryPostgres: Sendable {
    /// The cluster's folder.
    public let directory: String
    /// The port it listens on.
    public let port: Int
    private let stopped = Mutex(false)
    /// The server options `pg_ctl start` was given, for ``restart(down:)``.
    private let startOptions: String

    /// Where the PostgreSQL 15 programs are.
    public static let binDirectory = ProcessInfo.processInfo.environment["THALO_PG_BIN"] ?? "/usr/lib/postgresql/15/bin"

    private init(directory: String, port: Int, startOptions: String) {
        self.directory = directory
        self.port = port
        self.startOptions = startOptions
    }

    /// Starts a new cluster.
    ///
    /// - Parameter durable: keep `fsync` on (for benchmarks); tests turn it off for speed.
    public static func start(durable: Bool = false) async throws -> TemporaryPostgres {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("thalo-pg-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let asRoot = getuid() == 0
        if asRoot { try await ProcessRunner.output("/bin/chown", ["postgres:postgres", root]) }
        let data = root + "/data"
        let initdb = try await runAsPostgres(
            asRoot, "\(binDirectory)/initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"])
        guard initdb.status == 0 else {
            throw TemporaryPostgresError("initdb failed (\(initdb.status)): \(initdb.combined)")
        }
        var lastFailure = ""
        for _ in 0..<5 {
            let port = try freePort()
            var options = "-p \(port) -k \(root) -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=128MB"
            if !durable { options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off" }
            let start = try await pgCtlStart(asRoot, folder: root, options: options)
            if start.status == 0 {
                let server = TemporaryPostgres(directory: root, port: port, startOptions: options)
                register(server)
                return server
            }
            lastFailure = start.combined + ((try? String(contentsOfFile: root + "/server.log", encoding: .utf8)) ?? "")
        }
        throw TemporaryPostgresError("pg_ctl could not start the server: \(lastFailure)")
    }

    /// A URL for a database of this cluster, as user `postgres`.
    public func url(database: String = "postgres", user: String = "postgres") -> String {
        "postgres://\(user)@127.0.0.1:\(port)/\(database)?sslmode=disable"
    }

    /// Runs SQL with psql against a database (as `user`) and returns its output.
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres", user: String = "postgres") async throws -> String {
        let output = try await ProcessRunner.output(
            "/usr/bin/psql",
            ["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port), "-U", user, "-d", database, "-c", sql])
        guard output.status == 0 else {
            throw TemporaryPostgresError("psql failed: \(output.standardError)")
        }
        return output.standardOutput
    }

    /// Holds `table` locked (`ACCESS EXCLUSIVE`, so that even reads of it wait) in a psql
    /// session of its own for up to `seconds`, until ``TableLock/release()`` ends that
    /// session; returns once the lock is granted.
    public func holdLocked(_ table: String, database: String, seconds: Int = 60) async throws -> TableLock {
        let statement = "BEGIN; LOCK TABLE \(table) IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(\(seconds)); COMMIT;"
        let session = Task { try await self.psql(statement, database: database) }
        let relation = table.split(separator: ".").last.map(String.init) ?? table
        try await waitUntil("\(table) is locked") {
            let granted = try await self.psql(
                """
                SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                WHERE c.relname = '\(relation)' AND l.mode = 'AccessExclusiveLock' AND l.granted
                  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                """, database: database)
            return granted.trimmingCharacters(in: .whitespacesAndNewlines) == "1"
        }
        return TableLock(server: self, database: database, statement: statement, session: session)
    }

    /// Creates a database, optionally as a copy of a template database.
    public func createDatabase(_ name: String, template: String? = nil) async throws {
        var lastError = ""
        // A template that was just used may still have a closing connection: retry briefly.
        for _ in 0..<50 {
            do {
                try await psql("CREATE DATABASE \"\(name)\"" + (template.map { " TEMPLATE \"\($0)\"" } ?? ""))
                return
            } catch {
                lastError = "\(error)"
                guard lastError.contains("is being accessed by other users") else { throw error }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        throw TemporaryPostgresError(lastError)
    }

    /// Stops the server at once (as a crash would: `-m immediate`, connections cut), waits
    /// `down`, and starts it again on the same port and data.
    public func restart(down: Duration) async throws {
        let asRoot = getuid() == 0
        let data = directory + "/data"
        _ = try await Self.runAsPostgres(asRoot, "\(Self.binDirectory)/pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"])
        try await Task.sleep(for: down)
        let start = try await Self.pgCtlStart(asRoot, folder: directory, options: startOptions)
        guard start.status == 0 else {
            throw TemporaryPostgresError("pg_ctl could not restart the server: \(start.combined)")
        }
    }

    /// Stops the server at once and deletes its folder. It signals the postmaster itself
    /// (SIGQUIT: what `pg_ctl -m immediate stop` sends) so that it works from `deinit` and
    /// the exit hook, where nothing can be awaited.
    public func stop() {
        let alreadyStopped = stopped.withLock { value in
            defer { value = true }
            return value
        }
        guard !alreadyStopped else { return }
        let pidFile = directory + "/data/postmaster.pid"
        if let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
            let line = text.split(separator: "\n").first, let pid = pid_t(line), pid > 0, kill(pid, SIGQUIT) == 0
        {
            // The postmaster deletes its pid file on the way out (what `pg_ctl -w` waits for).
            let deadline = ContinuousClock.now + .seconds(30)
            while FileManager.default.fileExists(atPath: pidFile) && ContinuousClock.now < deadline { usleep(20_000) }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }

    /// `pg_ctl start` on the cluster in `folder`, waiting up to 60 s for it to accept connections.
    private static func pgCtlStart(_ asRoot: Bool, folder: String, options: String) async throws -> ProcessRunner.Output {
        try await runAsPostgres(
            asRoot, "\(binDirectory)/pg_ctl",
            ["-D", folder + "/data", "-l", folder + "/server.log", "-o", options, "-w", "-t", "60", "start"])
    }

    private static func runAsPostgres(_ asRoot: Bool, _ program: String, _ arguments: [String]) async throws -> ProcessRunner.Output {
        if asRoot {
            return try await ProcessRunner.output("/usr/sbin/runuser", ["-u", "postgres", "--", program] + arguments)
        }
        return try await ProcessRunner.output(program, arguments)
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago.
    public static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw TemporaryPostgresError("socket() failed") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw TemporaryPostgresError("bind() failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    // Clusters still running when the process exits are stopped by an atexit hook.
    private static let running = Mutex<[TemporaryPostgres]>([])

    private static func register(_ server: TemporaryPostgres) {
        let first = running.withLock { list in
            list.append(server)
            return list.count == 1
        }
        if first {
            atexit {
                let servers = TemporaryPostgres.running.withLock { $0 }
                for server in servers { server.stop() }
            }
        }
    }
}

/// Why a temporary cluster could not be created.
public struct TemporaryPostgresError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A table held locked by ``TemporaryPostgres/holdLocked(_:database:seconds:)``.
public struct TableLock: Sendable {
    let server: TemporaryPostgres
    let database: String
    let statement: String
    let session: Task<String, any Error>

    /// Ends the session holding the lock, and waits for its psql to exit.
    public func release() async throws {
        try await server.psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = '\(statement)'", database: database)
        _ = await session.result
    }
}
