import AsyncHTTPClient
import Foundation
import JSON
import NIOCore
import NIOHTTP1

/// Talks to a running `thalo serve`.
struct Client {
    let baseURL: String
    let token: String?

    struct Response {
        var status: Int
        var body: JSONValue
        var text: String
    }

    func get(_ path: String, query: [String: String?] = [:]) async throws(CLIError) -> Response {
        try await send(.GET, path, query: query, body: nil)
    }

    func post(_ path: String, body: JSONValue, headers: [String: String] = [:]) async throws(CLIError) -> Response {
        try await send(.POST, path, query: [:], body: body.jsonText, headers: headers)
    }

    func url(_ path: String, query: [String: String?] = [:]) -> String {
        var url = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        url += path
        let items = query.compactMap { key, value in value.map { "\(key)=\(Self.escape($0))" } }.sorted()
        if !items.isEmpty { url += "?" + items.joined(separator: "&") }
        return url
    }

    static func escape(_ segment: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/?#&=+")
        return segment.addingPercentEncoding(withAllowedCharacters: allowed) ?? segment
    }

    /// The CLI's HTTP client. A connection that cannot be made fails the request at once
    /// (the default retries until the request's deadline, which would leave `thalo modules`
    /// waiting five minutes for a server that is not running).
    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// The request for `path`, with the token; an unusable server URL is an input error.
    private func request(_ path: String, query: [String: String?]) throws(CLIError) -> HTTPClientRequest {
        guard let components = URLComponents(string: baseURL), components.scheme == "http" || components.scheme == "https",
            components.host?.isEmpty == false
        else {
            throw CLIError.input("invalid server URL \(baseURL); expected http://host:port")
        }
        var request = HTTPClientRequest(url: url(path, query: query))
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        return request
    }

    private func send(_ method: HTTPMethod, _ path: String, query: [String: String?], body: String?, headers: [String: String] = [:])
        async throws(CLIError) -> Response
    {
        var request = try request(path, query: query)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        do {
            let response = try await Self.http.execute(request, timeout: .seconds(300))
            let buffer = try await response.body.collect(upTo: 256 << 20)
            let text = String(buffer: buffer)
            let json = (try? JSONValue(parsing: text)) ?? .string(text)
            let result = Response(status: Int(response.status.code), body: json, text: text)
            guard (200..<300).contains(result.status) else { throw CLIError.server(result) }
            return result
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError.unreachable(baseURL, error)
        }
    }

    /// Streams a Server-Sent Events response, calling `handle` with each event's data.
    func events(_ path: String, query: [String: String?], lastEventID: String?, handle: (String, String?) throws -> Void)
        async throws(CLIError)
    {
        var request = try request(path, query: query)
        request.headers.add(name: "Accept", value: "text/event-stream")
        if let lastEventID { request.headers.add(name: "Last-Event-ID", value: lastEventID) }
        do {
            let response = try await Self.http.execute(request, timeout: .hours(24 * 365))
            guard response.status == .ok else {
                let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
                throw CLIError.server(
                    Response(status: Int(response.status.code), body: (try? JSONValue(parsing: text)) ?? .string(text), text: text))
            }
            var pending = ""
            for try await chunk in response.body {
                pending += String(buffer: chunk)
                while let end = pending.range(of: "\n\n") {
                    let block = pending[..<end.lowerBound]
                    pending = String(pending[end.upperBound...])
                    var data: [Substring] = []
                    var id: String?
                    for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                        if line.hasPrefix("data: ") { data.append(line.dropFirst(6)) }
                        if line.hasPrefix("id: ") { id = String(line.dropFirst(4)) }
                    }
                    if !data.isEmpty { try handle(data.joined(separator: "\n"), id) }
                }
            }
        } catch let error as CLIError {
            throw error
        } catch is CancellationError {
            return
        } catch {
            throw CLIError.unreachable(baseURL, error)
        }
    }
}
