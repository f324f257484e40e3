import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import MessageStore
import NIOCore
import Prometheus
import ServiceLifecycle
import Synchronization
import ThaloRuntime

/// Serves a runtime over HTTP: the runtime (and its command consumers) and the API run as
/// services in one `ServiceGroup` that shuts down gracefully on SIGINT and SIGTERM. Which
/// store the runtime uses, and what is published before it starts, is the caller's concern.
public enum Server {
    /// The `Server` header of every answer.
    static let serverName = "thalo"

    /// Runs the runtime and the API until SIGINT/SIGTERM (or cancellation).
    ///
    /// - Parameters:
    ///   - metrics: the registry `/metrics` exports (the caller bootstraps swift-metrics to it).
    ///   - storeName: the store's kind, for `/health`.
    ///   - onRunning: called once the server listens.
    public static func run<Store: MessageStore & ModuleStorage>(
        runtime: Runtime<Store>, options: ServerOptions, metrics: PrometheusCollectorRegistry, storeName: String, logger: Logger,
        onRunning: @escaping @Sendable () -> Void
    ) async throws {
        try options.validate()
        let api = API(
            runtime: runtime, token: options.token, limits: options.limits, metrics: metrics, storeName: storeName, logger: logger)
        let app = Application(
            router: router(api),
            server: http(api),
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: serverName),
            onServerRunning: { _ in onRunning() },
            logger: logger)
        let group = ServiceGroup(
            configuration: .init(services: [runtime, app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch let error as IOError {
            // Binding the listening socket is what fails with an IOError named after bind.
            guard error.description.hasPrefix("bind") else { throw error }
            throw ListenError(host: options.host, port: options.port, errno: error.errnoCode)
        }
    }

    /// HTTP/1.1 with ``ExecuteFastPath`` in each connection's pipeline: commands sent to
    /// `POST /v1/execute/…` are answered there, everything else by the router.
    public static func http<Store>(_ api: API<Store>) -> HTTPServerBuilder {
        let limit = api.limits.maximumCommandBodyBytes
        return .http1(
            configuration: .init(
                additionalChannelHandlers: [
                    ExecuteFastPath(limit: limit, serverName: serverName) { head, segments, body in
                        await api.execute(head: head, segments: segments, body: body)
                    }
                ]))
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

/// The server could not listen on its address (the socket's bind failed).
public struct ListenError: Error, CustomStringConvertible {
    public let host: String
    public let port: Int
    public let errno: CInt

    public var description: String {
        let address = "\(host):\(port)"
        switch errno {
        case EADDRINUSE:
            return
                "cannot listen on \(address): the address is in use (another process listens there); stop it, or give another address with --listen"
        case EADDRNOTAVAIL:
            return
                "cannot listen on \(address): no network interface of this machine has that address; give one of its addresses with --listen"
        case EACCES:
            return "cannot listen on \(address): permission denied (ports below 1024 need privileges); give another port with --listen"
        default:
            return "cannot listen on \(address): \(String(cString: strerror(errno))) (errno \(errno))"
        }
    }
}
