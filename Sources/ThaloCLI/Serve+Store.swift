import Foundation
import GuestBuilder
import Logging
import MessageDB
import MessageStore
import MessageStoreSQLite
import Metrics
import Prometheus
import ThaloRuntime
import ThaloServer

extension Serve {
    /// The default data folder of the embedded store, relative to the working directory.
    static let defaultDataDirectory = ".thalo"

    /// The example folders `--examples` publishes: the seed's three aggregates
    /// (`Examples/c_counter` implements Counter again, in C, so it is not published).
    static let exampleNames = ["bank_account", "counter", "todos"]

    /// The Prometheus registry `/metrics` exports; swift-metrics reports to it once `serve` runs.
    static let metrics: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    /// Opens the store (`--database-url`, or the embedded one in `--data-dir`), builds the
    /// runtime on it, publishes the examples when asked, and serves until SIGINT/SIGTERM.
    ///
    /// - Parameter onRunning: called once the server listens, with the store's description
    ///   and the examples published.
    func serve(logger: Logger, onRunning: @escaping @Sendable (_ store: String, _ published: [String]) -> Void) async throws {
        // Before any runtime exists: its metrics bind to the factory in place when they are made.
        _ = Self.metrics
        if let databaseURL {
            let url = try DatabaseURL(databaseURL)
            let store = try MessageDBStore(configuration: .init(url: url, synchronousCommit: durability == .full), logger: logger)
            try await store.checkConnection()
            try await withThrowingTaskGroup(of: Void.self) { group in
                // The pool must run while the schema and registry are checked and the examples published.
                group.addTask { await store.client.run() }
                defer { group.cancelAll() }
                let outcome = try await MessageDBInstaller.prepare(on: store, logger: logger)
                if case .installed(let version) = outcome {
                    logger.info("installed the message_store schema", metadata: ["schema.version": "\(version)"])
                }
                let coordinator = try MessageDBCoordinator(
                    store: store,
                    configuration: .init(
                        nodeID: nodeID, partitions: partitions, heartbeatInterval: .milliseconds(Int64(heartbeat * 1000)),
                        leaseDuration: .milliseconds(Int64(lease * 1000))),
                    logger: logger)
                let runtime = Runtime(store: store, configuration: runtimeConfiguration, coordinator: coordinator, logger: logger)
                try await serve(
                    runtime, storeName: "postgres", description: "PostgreSQL \(url), node \(nodeID), durability \(durability)",
                    logger: logger, onRunning: onRunning)
            }
        } else {
            // The embedded store is single-node: a second server on the same folder stops here.
            let lock = try DataDirectoryLock(folder: dataDir)
            defer { lock.unlock() }
            let path = (dataDir as NSString).appendingPathComponent("thalo.sqlite")
            let store = try SQLiteMessageStore(
                configuration: .init(path: path, synchronous: durability == .full ? .full : .normal), logger: logger)
            defer { store.close() }
            let runtime = Runtime(store: store, configuration: runtimeConfiguration, logger: logger)
            try await serve(
                runtime, storeName: "sqlite", description: "embedded store \(path), durability \(durability)", logger: logger,
                onRunning: onRunning)
        }
    }

    private func serve<Store: MessageStore & ModuleStorage>(
        _ runtime: Runtime<Store>, storeName: String, description: String, logger: Logger,
        onRunning: @escaping @Sendable (_ store: String, _ published: [String]) -> Void
    ) async throws {
        let published = examples ? try await publishExamples(runtime: runtime, logger: logger) : []
        try await Server.run(runtime: runtime, options: serverOptions, metrics: Self.metrics, storeName: storeName, logger: logger) {
            onRunning(description, published)
        }
    }

    /// Builds (into `<data-dir>/examples`) and publishes each example whose version is not
    /// published yet; returns what it did, one line per example.
    private func publishExamples(runtime: Runtime<some MessageStore & ModuleStorage>, logger: Logger) async throws -> [String] {
        let folder = URL(fileURLWithPath: examplesDir)
        let entries = Self.exampleNames.map { folder.appendingPathComponent($0) }
            .filter { FileManager.default.fileExists(atPath: $0.path) }
        guard !entries.isEmpty else {
            throw CLIError(message: "no examples (\(Self.exampleNames.joined(separator: ", "))) in \(folder.path)", exitCode: 1)
        }
        var published: [String] = []
        let existing = try await runtime.registry.list()
        let output = URL(fileURLWithPath: dataDir).appendingPathComponent("examples")
        for entry in entries {
            let result = try await GuestBuilder(configuration: .init(outputDirectory: output)).build(directory: entry)
            let name = result.schema.aggregate.name
            let version = result.schema.version
            if existing.contains(where: { $0.name == name && $0.version >= version }) {
                published.append("\(name) \(version) (already published)")
                continue
            }
            let schemaFile = try FileManager.default.contentsOfDirectory(atPath: entry.path).first { $0.hasSuffix(".esdl") }!
            let schema = try String(contentsOf: entry.appendingPathComponent(schemaFile), encoding: .utf8)
            let wasm = try [UInt8](Data(contentsOf: result.wasmURL))
            try await runtime.publish(schema: schema, wasm: wasm, file: schemaFile)
            published.append("\(name) \(version)")
            logger.info("published example", metadata: ["module.name": "\(name)", "module.version": "\(version)"])
        }
        return published
    }
}
