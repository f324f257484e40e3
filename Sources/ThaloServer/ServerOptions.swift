import Foundation

/// How `thalo serve` runs.
public struct ServerOptions: Sendable {
    /// The default port: 7878.
    public static let defaultPort = 7878
    /// The default data folder of the embedded store, relative to the working directory.
    public static let defaultDataDirectory = ".thalo"

    /// The address to listen on.
    public var host: String
    public var port: Int
    /// Where the embedded store keeps its file (`thalo.sqlite`), when no database URL is given.
    public var dataDirectory: String
    /// A PostgreSQL URL; when set, Message DB on PostgreSQL is used instead of the embedded store.
    public var databaseURL: String?
    /// When set, publishing and command endpoints require `Authorization: Bearer <token>`.
    public var token: String?
    /// A folder of example aggregates to build and publish at start (`--examples`).
    public var examplesDirectory: URL?
    /// Entities kept live per aggregate.
    public var cacheCapacity: Int
    /// The consumer name of the command consumers.
    public var consumerName: String

    public init(
        host: String = "127.0.0.1", port: Int = ServerOptions.defaultPort, dataDirectory: String = ServerOptions.defaultDataDirectory,
        databaseURL: String? = nil, token: String? = nil, examplesDirectory: URL? = nil, cacheCapacity: Int = 100_000,
        consumerName: String = "thalo"
    ) {
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
        self.databaseURL = databaseURL
        self.token = token
        self.examplesDirectory = examplesDirectory
        self.cacheCapacity = cacheCapacity
        self.consumerName = consumerName
    }

    /// The embedded store's file.
    public var sqlitePath: String { (dataDirectory as NSString).appendingPathComponent("thalo.sqlite") }
}
