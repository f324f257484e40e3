import Foundation
import MessageStore
import NIOSSL
import PostgresNIO

/// A PostgreSQL connection URL: `postgres://user:password@host:port/database?sslmode=…`.
///
/// `sslmode` may be `disable` (the default for 127.0.0.1, localhost and Unix sockets),
/// `prefer` (the default otherwise) or `require`. A `host` query parameter that is a path
/// connects through that Unix socket folder, as libpq does.
public struct DatabaseURL: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var socketPath: String?
    public var sslMode: String

    /// Parses a URL.
    ///
    /// - Throws: ``MessageStoreError`` (`invalidArgument`) naming what is wrong.
    public init(_ text: String) throws(MessageStoreError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme,
            scheme == "postgres" || scheme == "postgresql"
        else {
            throw MessageStoreError(
                .invalidArgument,
                "invalid database URL \"\(DatabaseURL.redact(text))\": expected postgres://user:password@host:port/database")
        }
        let items = components.queryItems ?? []
        func item(_ name: String) -> String? { items.first { $0.name == name }?.value }
        let hostItem = item("host")
        if let hostItem, hostItem.hasPrefix("/") {
            socketPath = hostItem
            host = components.host ?? "localhost"
        } else {
            socketPath = nil
            host = hostItem ?? components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "localhost"
        }
        port = components.port ?? item("port").flatMap(Int.init) ?? 5432
        username = components.user.flatMap { $0.removingPercentEncoding } ?? item("user") ?? "postgres"
        password = components.password.flatMap { $0.removingPercentEncoding } ?? item("password")
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.isEmpty ? username : (path.removingPercentEncoding ?? path)
        let local = socketPath != nil || host == "127.0.0.1" || host == "localhost" || host == "::1"
        sslMode = item("sslmode") ?? (local ? "disable" : "prefer")
        guard ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"].contains(sslMode) else {
            throw MessageStoreError(
                .invalidArgument, "invalid sslmode \"\(sslMode)\" in the database URL: expected disable, prefer or require")
        }
    }

    /// The URL with the password hidden, for logs and messages.
    public var description: String {
        "postgres://\(username)\(password == nil ? "" : ":***")@\(socketPath ?? "\(host):\(port)")/\(database)"
    }

    static func redact(_ text: String) -> String {
        guard var components = URLComponents(string: text), components.password != nil else { return text }
        components.password = "***"
        return components.string ?? text
    }

    /// The PostgresNIO client configuration for this URL.
    public func clientConfiguration() throws -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        if let socketPath {
            let file = socketPath.hasSuffix(".s.PGSQL.\(port)") ? socketPath : socketPath + "/.s.PGSQL.\(port)"
            configuration = .init(unixSocketPath: file, username: username, password: password, database: database)
        } else {
            let tls: PostgresClient.Configuration.TLS
            switch sslMode {
            case "disable", "allow": tls = .disable
            case "require":
                var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
                tlsConfiguration.certificateVerification = .none
                tls = .require(tlsConfiguration)
            case "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
            default:
                var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
                tlsConfiguration.certificateVerification = .none
                tls = .prefer(tlsConfiguration)
            }
            configuration = .init(host: host, port: port, username: username, password: password, database: database, tls: tls)
        }
        return configuration
    }

    /// A single-connection configuration for this URL (used to check that the server is
    /// reachable before starting a pool).
    public func connectionConfiguration() throws -> PostgresConnection.Configuration {
        if let socketPath {
            let file = socketPath.hasSuffix(".s.PGSQL.\(port)") ? socketPath : socketPath + "/.s.PGSQL.\(port)"
            return .init(unixSocketPath: file, username: username, password: password, database: database)
        }
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        let tls: PostgresConnection.Configuration.TLS
        switch sslMode {
        case "disable", "allow": tls = .disable
        case "require":
            tlsConfiguration.certificateVerification = .none
            tls = .require(try NIOSSLContext(configuration: tlsConfiguration))
        case "verify-ca", "verify-full": tls = .require(try NIOSSLContext(configuration: tlsConfiguration))
        default:
            tlsConfiguration.certificateVerification = .none
            tls = .prefer(try NIOSSLContext(configuration: tlsConfiguration))
        }
        return .init(host: host, port: port, username: username, password: password, database: database, tls: tls)
    }
}
