import Foundation
import GuestBuilder
import Hummingbird
import Logging
import MessageDB
import MessageStore
import MessageStoreSQLite
import Metrics
import Prometheus
import ServiceLifecycle
import Synchronization
import ThaloRuntime

/// Runs `thalo serve`: the runtime, its command consumers and the HTTP API, as services
/// in one `ServiceGroup` that shuts down gracefully on SIGINT and SIGTERM.
public enum Server {
    /// What a running server tells its starter.
    public struct Started: Sendable {
        public var url: String
        public var store: String
        public var published: [String]
    }

    /// The Prometheus registry that `/metrics` exports.
    public static let metricsRegistry = PrometheusCollectorRegistry()
    private static let bootstrapMetrics: Void = {
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metricsRegistry))
    }()

    /// Routes swift-metrics to ``metricsRegistry`` (once per process; later calls do nothing).
    public static func bootstrapMetricsOnce() {
        _ = bootstrapMetrics
    }

    /// Starts the server and runs until SIGINT/SIGTERM (or cancellation).
    ///
    /// - Parameter onStarted: called once the server listens.
    public static func run(options: ServerOptions, logger: Logger, onStarted: @escaping @Sendable (Started) -> Void) async throws {
        try options.validate()
        bootstrapMetricsOnce()
        if let url = options.databaseURL {
            let store = try MessageDBStore(configuration: .init(url: try DatabaseURL(url)), logger: logger)
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
                        nodeID: options.nodeID, partitions: options.partitions, heartbeatInterval: options.heartbeatInterval,
                        leaseDuration: options.leaseDuration),
                    logger: logger)
                try await serve(
                    store: store, storeName: "postgres", storeDescription: "PostgreSQL \(try DatabaseURL(url)), node \(options.nodeID)",
                    coordinator: coordinator, options: options, logger: logger, onStarted: onStarted)
            }
        } else {
            // The embedded store is single-node: a second server on the same folder stops here.
            let lock = try DataDirectoryLock(folder: options.dataDirectory)
            defer { lock.unlock() }
            let store = try SQLiteMessageStore(path: options.sqlitePath, logger: logger)
            defer { store.close() }
            try await serve(
                store: store, storeName: "sqlite", storeDescription: "embedded store \(options.sqlitePath)", options: options,
                logger: logger, onStarted: onStarted)
        }
    }

    private static func serve<Store: MessageStore & ModuleStorage>(
        store: Store, storeName: String, storeDescription: String, coordinator: (any PartitionCoordinator)? = nil,
        options: ServerOptions, logger: Logger, onStarted: @escaping @Sendable (Started) -> Void
    ) async throws {
        let runtime = Runtime(
            store: store,
            configuration: RuntimeConfiguration(
                cacheCapacity: options.cacheCapacity, consumerName: options.consumerName, nodeID: options.nodeID,
                snapshotEvery: options.snapshotEvery),
            coordinator: coordinator, logger: logger)
        var published: [String] = []
        if let examples = options.examplesDirectory {
            published = try await publishExamples(from: examples, into: options.dataDirectory, runtime: runtime, logger: logger)
        }
        let router = router(
            API(
                runtime: runtime, token: options.token, limits: options.limits, metrics: metricsRegistry, storeName: storeName,
                logger: logger))
        let url = "http://\(options.host):\(options.port)"
        let publishedExamples = published
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: "thalo"),
            onServerRunning: { _ in onStarted(Started(url: url, store: storeDescription, published: publishedExamples)) },
            logger: logger)
        let group = ServiceGroup(
            configuration: .init(services: [runtime, app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// The API's router: the error middleware, then every route. The server and the tests
    /// use it; the middleware's 405 answers come from the routes the router holds.
    public static func router<Store>(_ api: API<Store>) -> Router<BasicRequestContext> {
        let routes = RouteTable()
        let router = Router()
        router.add(middleware: ErrorMiddleware(routes: routes))
        api.register(on: router)
        routes.set(router.routes.map(\.description))
        return router
    }

    /// The example folders `--examples` publishes: the seed's three aggregates
    /// (`Examples/c_counter` implements Counter again, in C, so it is not published).
    public static let exampleNames = ["bank_account", "counter", "todos"]

    /// Builds and publishes each example whose version is not published yet.
    static func publishExamples(
        from folder: URL, into dataDirectory: String, runtime: Runtime<some MessageStore & ModuleStorage>, logger: Logger
    ) async throws
        -> [String]
    {
        let entries = exampleNames.map { folder.appendingPathComponent($0) }
            .filter { FileManager.default.fileExists(atPath: $0.path) }
        guard !entries.isEmpty else {
            throw RuntimeError(.invalidModule, "no examples (\(exampleNames.joined(separator: ", "))) in \(folder.path)")
        }
        var published: [String] = []
        let existing = try await runtime.registry.list()
        for entry in entries {
            let output = URL(fileURLWithPath: dataDirectory).appendingPathComponent("examples")
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

/// The routes of a router, as `METHOD /path/{parameter}`, filled in once they are all added.
final class RouteTable: Sendable {
    private let state = Mutex<[String]>([])
    func set(_ routes: [String]) { state.withLock { $0 = routes } }
    var all: [String] { state.withLock { $0 } }
}

/// Turns any error a route throws into the API's JSON error body.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let routes: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let allowed = methods(for: request.uri.path)
            if !allowed.isEmpty {
                throw APIError(
                    .methodNotAllowed, code: "methodNotAllowed",
                    message: "\(request.method) is not allowed on \(request.uri.path); allowed: \(allowed.joined(separator: ", "))",
                    allow: allowed)
            }
            throw APIError(.notFound, code: "notFound", message: "no route for \(request.method) \(request.uri.path); see /openapi.json")
        } catch let error as HTTPError {
            throw APIError(error.status, code: "invalidRequest", message: error.body ?? "\(error.status)")
        } catch {
            throw APIError.from(error)
        }
    }

    /// The methods of the routes whose path template matches `path` (`{name}` matches one
    /// non-empty segment), for 405 answers.
    func methods(for path: String) -> [String] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        var methods: [String] = []
        for route in routes.all {
            let parts = route.split(separator: " ", maxSplits: 1)
            let template = parts[1].split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            guard template.count == segments.count else { continue }
            let matches = zip(template, segments).allSatisfy { pattern, segment in
                pattern.hasPrefix("{") ? !segment.isEmpty : pattern == segment
            }
            if matches, !methods.contains(String(parts[0])) { methods.append(String(parts[0])) }
        }
        return methods
    }
}
