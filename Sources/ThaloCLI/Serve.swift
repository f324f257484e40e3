import ArgumentParser
import Foundation
import Logging
import MessageStore
import ThaloRuntime
import ThaloServer

/// `thalo serve`
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the Thalo runtime and its HTTP API.",
        discussion: """
            Uses the embedded SQLite store in --data-dir unless --database-url names a \
            PostgreSQL database (Message DB; the schema and the module registry are installed \
            when missing; a role that may not create them, such as an official installation's \
            message_store, needs `thalo db install` run once by an administrator). Stops \
            gracefully on Ctrl-C or SIGTERM. The API is described at /openapi.json; the \
            console, a web UI for modules, streams and entities, is at /console.

            Several nodes on one PostgreSQL share the submitted commands: each command category \
            is split into --partitions partitions leased to the live nodes, at most an even \
            share each; a node that is killed loses its partitions at its peers' next heartbeat, \
            one that is paused or cut off when its --lease runs out. See `thalo cluster status`. \
            The embedded store is single-node: a second server on the same --data-dir stops.
            """)

    @Option(name: .long, help: ArgumentHelp("Folder of the embedded store (file thalo.sqlite).", valueName: "dir"))
    var dataDir: String = Serve.defaultDataDirectory

    @Option(
        name: .long, help: ArgumentHelp("PostgreSQL URL, postgres://user:password@host:port/db (or THALO_DATABASE_URL).", valueName: "url"))
    var databaseURL: String? = ProcessInfo.processInfo.environment["THALO_DATABASE_URL"]

    @Option(
        name: .long,
        help: ArgumentHelp(
            "What an acknowledged command survives: full (its events are fsynced: a power loss) or os (handed to the operating system: a crash of Thalo, not a power loss; faster).",
            valueName: "full|os"))
    var durability: Durability = .full

    @Option(name: .long, help: ArgumentHelp("Address and port to listen on.", valueName: "host:port"))
    var listen = ListenAddress(host: "127.0.0.1", port: ServerOptions.defaultPort)

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Require this bearer token on every endpoint but /health, /metrics, /openapi.json and the console's files (or THALO_TOKEN; an empty one is refused).",
            valueName: "token"))
    var token: String? = ProcessInfo.processInfo.environment["THALO_TOKEN"]

    @Flag(
        name: .long,
        help: "With a token, let reads (cluster, modules, streams, categories, event streams, entity views) through without it.")
    var openReads = false

    @Option(name: .long, help: ArgumentHelp("Largest command body accepted, in bytes (413 above).", valueName: "bytes"))
    var maxCommandBytes: Int = APILimits().maximumCommandBodyBytes

    @Option(name: .long, help: ArgumentHelp("Largest publish body accepted, in bytes (413 above).", valueName: "bytes"))
    var maxPublishBytes: Int = APILimits().maximumPublishBodyBytes

    @Option(name: .long, help: ArgumentHelp("Largest batchSize of a read (400 above).", valueName: "n"))
    var maxBatchSize: Int64 = APILimits().maximumBatchSize

    @Option(name: .long, help: ArgumentHelp("Most Server-Sent Events subscribers at once (503 above).", valueName: "n"))
    var maxSubscribers: Int = APILimits().maximumSubscribers

    @Flag(name: .long, help: "Build and publish the example aggregates (from --examples-dir) at start.")
    var examples = false

    @Option(name: .long, help: ArgumentHelp("Folder of example aggregates for --examples.", valueName: "dir"))
    var examplesDir: String = "Examples"

    @Option(name: .long, help: "Live entities kept per aggregate.")
    var cacheCapacity: Int = 100_000

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Snapshot an entity every n events, for modules that support snapshots; 0 turns snapshots off (none written or read).",
            valueName: "n"))
    var snapshotEvery: Int = 100

    @Option(name: .long, help: ArgumentHelp("This node's name in a cluster (PostgreSQL): unique per running node.", valueName: "name"))
    var nodeID: String = RuntimeConfiguration.defaultNodeID

    @Option(
        name: .long,
        help: ArgumentHelp("Partitions per command category, when a category is divided for the first time (PostgreSQL).", valueName: "n"))
    var partitions: Int = 16

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Seconds a partition lease lasts without renewal: how long a paused or cut-off node keeps its partitions (PostgreSQL).",
            valueName: "seconds"))
    var lease: Double = 5

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Seconds between heartbeats: lease renewal and the check for nodes that are gone (PostgreSQL).", valueName: "seconds"))
    var heartbeat: Double = 1

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical (default info, or LOG_LEVEL).")
    var logLevel: Logger.Level = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info

    func validate() throws {
        for (name, value) in [("--lease", lease), ("--heartbeat", heartbeat)] where !(value.isFinite && value > 0 && value <= 3600) {
            throw ValidationError("\(name) must be a number of seconds between 0 and 3600, got \(value)")
        }
        if heartbeat < 0.05 || lease < heartbeat * 2 {
            throw ValidationError(
                "--lease must last at least twice --heartbeat (at least 0.05 s), so that a healthy node renews in time; "
                    + "got --lease \(lease) --heartbeat \(heartbeat)")
        }
        if nodeID.isEmpty || nodeID.count > 200 || nodeID.contains(where: { $0.isWhitespace || $0.isNewline }) {
            throw ValidationError("--node-id \"\(nodeID)\" must be 1 to 200 characters without whitespace")
        }
        if snapshotEvery < 0 {
            throw ValidationError("--snapshot-every must be 0 (no snapshots) or a number of events, got \(snapshotEvery)")
        }
        if !(1...1024).contains(partitions) {
            throw ValidationError("--partitions must be between 1 and 1024, got \(partitions)")
        }
        if cacheCapacity < 1 {
            throw ValidationError("--cache-capacity must be at least 1, got \(cacheCapacity)")
        }
        do {
            try serverOptions.validate()
        } catch {
            throw ValidationError(error.description)
        }
        if examples && !FileManager.default.fileExists(atPath: examplesDir) {
            throw ValidationError(
                "--examples needs the examples folder \(examplesDir); run from the repository root or pass --examples-dir")
        }
    }

    /// The HTTP side of the options.
    var serverOptions: ServerOptions {
        ServerOptions(
            host: listen.host, port: listen.port, token: token,
            limits: APILimits(
                maximumCommandBodyBytes: maxCommandBytes, maximumPublishBodyBytes: maxPublishBytes, maximumBatchSize: maxBatchSize,
                maximumSubscribers: maxSubscribers, openReads: openReads))
    }

    /// The runtime side of the options.
    var runtimeConfiguration: RuntimeConfiguration {
        RuntimeConfiguration(cacheCapacity: cacheCapacity, nodeID: nodeID, snapshotEvery: snapshotEvery)
    }

    func run() async throws {
        var logger = Logger(label: "thalo") { LineLogHandler(label: $0) }
        logger.logLevel = logLevel
        let options = serverOptions
        let progress = examples ? Progress("building and publishing the examples…") : nil
        let me = CommandLine.arguments.first.map { $0.contains("/") ? $0 : "thalo" } ?? "thalo"
        do {
            try await serve(logger: logger) { store, published in
                progress?.stop()
                Terminal.print(Terminal.paint("Thalo is running on \(options.url)", .green) + " (\(store))")
                Terminal.print("Console: \(options.url)/console")
                if !published.isEmpty {
                    Terminal.print("Published examples: " + published.joined(separator: ", "))
                }
                if options.token != nil {
                    Terminal.print(
                        options.limits.openReads
                            ? "Publishing and commands require the bearer token; reads are open."
                            : "Every endpoint but /health, /metrics, /openapi.json and the console's files requires the bearer token.")
                }
                Terminal.print(
                    """

                    Next, in another terminal:
                      \(me) modules
                      \(me) execute BankAccount 1 open_account '{"initial_balance": 100}'
                      \(me) execute BankAccount 1 deposit_funds '{"amount": 50}'
                      \(me) execute BankAccount 1 withdraw_funds '{"amount": 500}'
                      \(me) streams read bankAccount-1
                      \(me) entity BankAccount 1
                      \(me) streams tail bankAccount
                    Stop with Ctrl-C.
                    """)
            }
        } catch {
            progress?.stop()
            Terminal.printError("\(error)")
            // A database that cannot be reached or does not answer is exit 3, as for the
            // other commands; every other failure to start is 1.
            let storeError = error as? MessageStoreError ?? (error as? RuntimeError)?.storeError
            if let storeError, CLIError.isUnreachable(storeError) {
                throw ExitCode(3)
            }
            throw ExitCode(1)
        }
    }
}
