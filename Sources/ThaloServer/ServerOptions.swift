import Foundation

/// How the HTTP API listens and whom it lets in.
public struct ServerOptions: Sendable {
    /// The default port: 7878.
    public static let defaultPort = 7878

    /// The address to listen on.
    public var host: String
    public var port: Int
    /// When set, publishing and command endpoints require `Authorization: Bearer <token>`.
    public var token: String?
    /// Request bounds, subscriber cap and whether reads are open without the token.
    public var limits: APILimits

    public init(host: String = "127.0.0.1", port: Int = ServerOptions.defaultPort, token: String? = nil, limits: APILimits = APILimits()) {
        self.host = host
        self.port = port
        self.token = token
        self.limits = limits
    }

    /// Checks the options before anything starts.
    ///
    /// - Throws: ``ServerOptionsError`` naming the option: an empty token (which would
    ///   silently turn authentication off), a token no header can carry, or a limit below 1.
    public func validate() throws(ServerOptionsError) {
        if let token, token.isEmpty {
            throw ServerOptionsError(
                "the token is empty (--token \"\" or THALO_TOKEN set to nothing); give a token, or unset THALO_TOKEN to run without one")
        }
        if let token, token.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 } ?? false }) {
            throw ServerOptionsError("the token contains whitespace or control characters, which an Authorization header cannot carry")
        }
        if limits.maximumCommandBodyBytes < 1 || limits.maximumPublishBodyBytes < 1 || limits.maximumBatchSize < 1
            || limits.maximumSubscribers < 1
        {
            throw ServerOptionsError("request limits must be at least 1")
        }
    }

    /// The URL the server answers on.
    public var url: String { "http://\(host):\(port)" }
}

/// Options the server cannot start with.
public struct ServerOptionsError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
