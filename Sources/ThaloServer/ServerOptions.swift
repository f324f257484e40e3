import Foundation
import ThaloRuntime

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
    /// Request bounds, subscriber cap and whether reads are open without the token.
    public var limits: APILimits
    /// This node's name in the cluster (PostgreSQL); the host name and process id by default.
    public var nodeID: String
    /// Partitions per command category, for categories not divided yet (PostgreSQL).
    public var partitions: Int
    /// How long a partition lease lasts without renewal (PostgreSQL).
    public var leaseDuration: Duration
    /// How often a node renews its leases and looks for nodes that are gone (PostgreSQL).
    public var heartbeatInterval: Duration
    /// Snapshot entities every this many events; 0 turns snapshots off.
    public var snapshotEvery: Int

    public init(
        host: String = "127.0.0.1", port: Int = ServerOptions.defaultPort, dataDirectory: String = ServerOptions.defaultDataDirectory,
        databaseURL: String? = nil, token: String? = nil, examplesDirectory: URL? = nil, cacheCapacity: Int = 100_000,
        consumerName: String = "thalo", limits: APILimits = APILimits(), nodeID: String = RuntimeConfiguration.defaultNodeID,
        partitions: Int = 16, leaseDuration: Duration = .seconds(5), heartbeatInterval: Duration = .seconds(1),
        snapshotEvery: Int = 100
    ) {
        self.snapshotEvery = snapshotEvery
        self.nodeID = nodeID
        self.partitions = partitions
        self.leaseDuration = leaseDuration
        self.heartbeatInterval = heartbeatInterval
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
        self.databaseURL = databaseURL
        self.token = token
        self.examplesDirectory = examplesDirectory
        self.cacheCapacity = cacheCapacity
        self.consumerName = consumerName
        self.limits = limits
    }

    /// Checks the options before anything starts.
    ///
    /// - Throws: ``ServerOptionsError`` naming the option: an empty token (which would
    ///   silently turn authentication off), or a limit below 1.
    public func validate() throws(ServerOptionsError) {
        if let token, token.isEmpty {
            throw ServerOptionsError(
                "the token is empty (--token \"\" or THALO_TOKEN set to nothing); give a token, or unset THALO_TOKEN to run without one")
        }
        if let token, token.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 } ?? false }) {
            throw ServerOptionsError("the token contains whitespace or control characters, which an Authorization header cannot carry")
        }
        if nodeID.isEmpty || nodeID.count > 200 || nodeID.contains(where: { $0.isWhitespace || $0.isNewline }) {
            throw ServerOptionsError("the node id \"\(nodeID)\" must be 1 to 200 characters without whitespace")
        }
        if snapshotEvery < 0 {
            throw ServerOptionsError("--snapshot-every must be 0 (no snapshots) or a number of events, got \(snapshotEvery)")
        }
        if !(1...1024).contains(partitions) {
            throw ServerOptionsError("--partitions must be between 1 and 1024, got \(partitions)")
        }
        if heartbeatInterval < .milliseconds(50) || leaseDuration < heartbeatInterval * 2 {
            throw ServerOptionsError(
                "the lease must last at least twice the heartbeat interval (at least 50 ms), so that a healthy node renews in time")
        }
        if limits.maximumCommandBodyBytes < 1 || limits.maximumPublishBodyBytes < 1 || limits.maximumBatchSize < 1
            || limits.maximumSubscribers < 1
        {
            throw ServerOptionsError("request limits must be at least 1")
        }
    }

    /// The embedded store's file.
    public var sqlitePath: String { (dataDirectory as NSString).appendingPathComponent("thalo.sqlite") }
}

/// Options `thalo serve` cannot start with.
public struct ServerOptionsError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
