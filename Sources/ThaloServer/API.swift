import ESDL
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import JSON
import Logging
import MessageStore
import Prometheus
import ThaloRuntime

/// The HTTP API of `thalo serve` (documented in ``OpenAPIDocument``).
///
/// When the server has a token, every endpoint but `/health`, `/metrics`, `/openapi.json`
/// and the console's files requires `Authorization: Bearer <token>`; with
/// ``APILimits/openReads`` reads (cluster, streams, categories, entity views, modules) are
/// open and only publishing and commands need it.
public struct API<Store: MessageStore & ModuleStorage>: Sendable {
    let runtime: Runtime<Store>
    let token: String?
    let limits: APILimits
    let metrics: PrometheusCollectorRegistry?
    let storeName: String
    let logger: Logger
    let subscribers: SubscriberCount

    /// - Parameter token: the bearer token; nil for none. An empty token is refused by
    ///   ``ServerOptions/validate()``; here it would mean no token.
    public init(
        runtime: Runtime<Store>, token: String?, limits: APILimits = APILimits(), metrics: PrometheusCollectorRegistry?,
        storeName: String, logger: Logger
    ) {
        self.runtime = runtime
        self.token = token.flatMap { $0.isEmpty ? nil : $0 }
        self.limits = limits
        self.metrics = metrics
        self.storeName = storeName
        self.logger = logger
        self.subscribers = SubscriberCount(limit: limits.maximumSubscribers)
    }

    /// Adds the routes to a router.
    public func register(on router: Router<BasicRequestContext>) {
        router.get("/health") { _, _ in try await self.health() }
        router.get("/metrics") { _, _ in self.prometheus() }
        router.get("/openapi.json") { _, _ in Self.json(.ok, OpenAPIDocument.text) }
        router.get("/v1/cluster") { request, _ in
            try self.authorize(request, read: true)
            return try await self.cluster()
        }
        router.get("/v1/modules") { request, _ in
            try self.authorize(request, read: true)
            return try await self.listModules(name: nil)
        }
        router.post("/v1/modules") { request, context in try await self.publish(request, context) }
        router.get("/v1/modules/:name") { request, context in
            try self.authorize(request, read: true)
            return try await self.listModules(name: Self.parameter("name", context))
        }
        router.get("/v1/modules/:name/:version") { request, context in try await self.moduleVersion(request, context) }
        router.post("/v1/modules/:name/:version/activate") { request, context in try await self.activate(request, context) }
        router.post("/v1/execute/:aggregate/:id/:command") { request, context in try await self.execute(request, context) }
        router.post("/v1/submit/:aggregate/:id/:command") { request, context in try await self.submit(request, context) }
        router.get("/v1/aggregates/:aggregate/:id") { request, context in try await self.entity(request, context) }
        router.get("/v1/streams/:stream") { request, context in try await self.readStream(request, context) }
        router.get("/v1/categories/:category") { request, context in try await self.readCategory(request, context) }
        router.get("/v1/categories/:category/events") { request, context in try self.subscribe(request, context) }
        registerConsole(on: router)
    }

    // MARK: Handlers

    func health() async throws -> Response {
        let versions = runtime.activeVersions()
        var output = JSONOutput()
        output.object { object in
            object.string("status", "ok")
            object.string("store", storeName)
            object.member("aggregates") { list in
                list.object { aggregates in
                    for name in versions.keys.sorted() { aggregates.string(name, versions[name]!.description) }
                }
            }
        }
        return Self.json(.ok, output.text)
    }

    func cluster() async throws -> Response {
        let status = try await runtime.clusterStatus()
        var output = JSONOutput()
        output.object { object in
            object.string("node", status.node)
            object.member("nodes") { list in
                list.array(status.nodes) { output, node in
                    output.object { item in
                        item.string("id", node.id)
                        item.string("startedAt", Timestamp(node.startedAt).iso8601)
                        item.string("lastHeartbeat", Timestamp(node.lastHeartbeat).iso8601)
                        item.bool("live", node.live)
                    }
                }
            }
            object.member("partitions") { list in
                list.array(status.partitions) { output, partition in
                    output.object { item in
                        item.string("category", partition.category)
                        item.string("consumer", partition.consumer)
                        item.integer("partition", Int64(partition.partition))
                        item.integer("partitions", Int64(partition.partitions))
                        item.string("owner", partition.owner)
                        item.integer("epoch", partition.epoch)
                        item.string("expiresAt", partition.expiresAt.map { Timestamp($0).iso8601 })
                        item.raw("position", partition.position.map(String.init))
                        item.raw("lag", partition.lag.map(String.init))
                    }
                }
            }
        }
        return Self.json(.ok, output.text)
    }

    func prometheus() -> Response {
        var bytes: [UInt8] = []
        metrics?.emit(into: &bytes)
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The published versions of the aggregate `name` (or of the aggregate of category
    /// `name`); 404 `unknownAggregate` when there is none.
    func publishedVersions(of name: String) async throws -> [ModuleInfo] {
        let modules = try await runtime.registry.list().filter { $0.name == name || $0.category == name }
        guard !modules.isEmpty else {
            throw APIError(.notFound, code: "unknownAggregate", message: "no module is published for aggregate \(name)")
        }
        return modules
    }

    func listModules(name: String?) async throws -> Response {
        let modules = if let name { try await publishedVersions(of: name) } else { try await runtime.registry.list() }
        let active = runtime.activeVersions()
        var output = JSONOutput()
        output.object { object in
            object.member("modules") { list in
                list.array(modules) { output, module in
                    output.object { Self.writeModule(module, active: active[module.name] == module.version, check: nil, to: &$0) }
                }
            }
        }
        return Self.json(.ok, output.text)
    }

    /// `GET /v1/modules/{name}/{version}`: one version with its schema, as JSON (for forms)
    /// and as ESDL in the canonical layout.
    func moduleVersion(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try authorize(request, read: true)
        let name = try Self.parameter("name", context)
        let versionText = try Self.parameter("version", context)
        let versions = try await publishedVersions(of: name)
        let version = SemanticVersion(versionText)
        guard let info = versions.first(where: { $0.version == version }),
            let module = try await runtime.registry.module(named: info.name, version: info.version)
        else {
            let known = versions.map(\.version.description).joined(separator: ", ")
            throw APIError(
                .notFound, code: "unknownVersion",
                message: "\(versions[0].name) has no published version \"\(versionText)\"; published: \(known)",
                extra: ["aggregate": .string(versions[0].name)])
        }
        var output = JSONOutput()
        output.object { object in
            Self.writeModule(info, active: runtime.activeVersions()[info.name] == info.version, check: nil, to: &object)
            object.value("schema", module.schema.jsonValue)
            object.string("esdl", module.schema.canonicalText)
        }
        return Self.json(.ok, output.text)
    }

    func publish(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try authorize(request)
        let body = try await Self.jsonBody(request, limit: limits.maximumPublishBodyBytes, what: "a publish request")
        guard let schema = body["schema"]?.stringValue else {
            throw APIError(.badRequest, code: "invalidRequest", message: "the body needs \"schema\": the ESDL source as a string")
        }
        guard let wasmText = body["wasm"]?.stringValue else {
            throw APIError(.badRequest, code: "invalidRequest", message: "the body needs \"wasm\": the module's bytes in base64")
        }
        guard let wasm = Data(base64Encoded: wasmText) else {
            throw APIError(.badRequest, code: "invalidRequest", message: "\"wasm\" is not valid base64")
        }
        let check = try Self.deployCheck(body)
        let (info, report) = try await runtime.publish(
            schema: schema, wasm: [UInt8](wasm), expectedName: body["name"]?.stringValue,
            file: body["file"]?.stringValue ?? "schema.esdl", check: check)
        var output = JSONOutput()
        output.object { Self.writeModule(info, active: nil, check: report, to: &$0) }
        return Self.json(.created, output.text)
    }

    /// `POST /v1/modules/{name}/{version}/activate`: runs a published version (rollback).
    func activate(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try authorize(request)
        let name = try Self.parameter("name", context)
        let versionText = try Self.parameter("version", context)
        guard let version = SemanticVersion(versionText) else {
            // No published version has that name: versions are semantic versions such as 0.1.0.
            throw APIError(
                .notFound, code: "unknownVersion", message: "\(name) has no published version \"\(versionText)\" (versions look like 0.1.0)"
            )
        }
        let body = try await Self.jsonBody(request, limit: 64 * 1024, what: "an activate request", allowEmpty: true)
        guard body.objectValue != nil else {
            throw APIError(.badRequest, code: "invalidRequest", message: "the body must be a JSON object (or empty)")
        }
        let (info, report) = try await runtime.activate(aggregate: name, version: version, check: try Self.deployCheck(body))
        var output = JSONOutput()
        output.object { Self.writeModule(info, active: true, check: report, to: &$0) }
        return Self.json(.ok, output.text)
    }

    /// The members of a `Module` in the OpenAPI document.
    static func writeModule(_ info: ModuleInfo, active: Bool?, check: DeployReport?, to object: inout JSONOutput.ObjectWriter) {
        object.string("name", info.name)
        object.string("version", info.version.description)
        object.string("category", info.category)
        object.integer("size", Int64(info.size))
        object.string("publishedAt", info.publishedAt.iso8601)
        if let active { object.bool("active", active) }
        if let check { object.value("check", deployJSON(check)) }
    }

    /// The deploy check a publish request asks for: `force`, `sample`, `compare`.
    static func deployCheck(_ body: JSONValue) throws -> DeployCheck {
        func flag(_ key: String) throws -> Bool {
            guard let value = body[key], value != .null else { return false }
            guard let flag = value.boolValue else {
                throw APIError(.badRequest, code: "invalidRequest", message: "\"\(key)\" must be true or false")
            }
            return flag
        }
        var check = DeployCheck(compare: try flag("compare"), force: try flag("force"))
        if let value = body["sample"], value != .null {
            guard let sample = value.integerValue, sample >= 0, sample <= Int64(Int32.max) else {
                throw APIError(.badRequest, code: "invalidRequest", message: "\"sample\" must be a whole number of streams, 0 or more")
            }
            check.sample = Int(sample)
        }
        return check
    }

    /// A deploy report as JSON.
    static func deployJSON(_ report: DeployReport) -> JSONValue {
        func findings(_ list: [DeployReport.Finding]) -> JSONValue {
            .array(
                list.map { finding in
                    var object: [String: JSONValue] = ["message": .string(finding.message)]
                    if let stream = finding.stream { object["stream"] = .string(stream) }
                    if let position = finding.position { object["position"] = .integer(position) }
                    return .object(object)
                })
        }
        var object: [String: JSONValue] = [
            "streams": .integer(Int64(report.streams)), "replayedStreams": .integer(Int64(report.replayedStreams)),
            "replayedEvents": .integer(Int64(report.replayedEvents)),
            "storedEventTypes": .array(report.storedEventTypes.map { .string($0) }),
            "schemaProblems": .array(report.schemaProblems.map { .string($0) }),
            "replayFailures": findings(report.replayFailures), "differences": findings(report.differences),
            "seconds": .double(report.seconds), "passed": .bool(report.passed),
        ]
        if let previous = report.previousVersion { object["previousVersion"] = .string(previous.description) }
        return .object(object)
    }

    func execute(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try authorize(request)
        let command = try await commandRequest(request, context)
        return Self.json(.ok, try await execute(command))
    }

    /// Runs a command and answers with the result's JSON text: the route's body, and the
    /// body ``ExecuteFastPath`` sends.
    func execute(_ command: CommandRequest) async throws -> String {
        let result = try await runtime.execute(command)
        var output = JSONOutput()
        output.object { object in
            switch result.outcome {
            case .recorded: object.string("outcome", "recorded")
            case .duplicate: object.string("outcome", "duplicate")
            case .ignored(let reason):
                object.string("outcome", "ignored")
                object.string("reason", reason)
            }
            object.string("aggregate", result.aggregate)
            object.string("streamName", result.streamName.rawValue)
            object.string("commandId", result.commandID.lowercasedText)
            object.string("moduleVersion", result.moduleVersion)
            object.member("events") { $0.array(result.outcome.events) { $0.event($1) } }
        }
        return output.text
    }

    /// `POST /v1/execute/{aggregate}/{id}/{command}` as ``ExecuteFastPath`` hands it over:
    /// the request's head, the path's three segments as sent, and the body (nil when it was
    /// larger than the limit). Answers as the route does, errors included.
    func execute(head: HTTPRequest, segments: [Substring], body: ByteBuffer?) async -> (HTTPResponse.Status, HTTPFields, String) {
        do {
            try authorize(head.headerFields)
            guard let body else { throw Self.bodyTooLarge(limit: limits.maximumCommandBodyBytes, what: "a command") }
            let command = try commandRequest(
                head.headerFields, aggregate: Self.decoded(segments[0]), id: Self.decoded(segments[1]),
                command: Self.decoded(segments[2]), body: body)
            return (.ok, HTTPFields.json, try await execute(command))
        } catch {
            let error = APIError.from(error)
            return (error.status, error.headers, error.body)
        }
    }

    func submit(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try authorize(request)
        let command = try await commandRequest(request, context)
        let receipt = try await runtime.submit(command)
        var output = JSONOutput()
        output.object { object in
            object.string("commandId", receipt.commandID.lowercasedText)
            object.string("streamName", receipt.streamName.rawValue)
            object.integer("position", receipt.position)
            object.integer("globalPosition", receipt.globalPosition)
            object.bool("duplicate", receipt.duplicate)
        }
        return Self.json(.accepted, output.text)
    }

    func entity(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try authorize(request, read: true)
        let aggregate = try Self.parameter("aggregate", context)
        let id = try Self.parameter("id", context)
        let query = request.uri.queryParameters
        var position: Int64?
        var time: Timestamp?
        if let text = query["position"] {
            guard let value = Int64(text), value >= 0 else {
                throw APIError(.badRequest, code: "invalidArgument", message: "position must be a non-negative integer, got \(text)")
            }
            position = value
        }
        if let text = query["time"] {
            guard let value = Timestamp(iso8601: String(text)) else {
                throw APIError(
                    .badRequest, code: "invalidArgument", message: "time must be ISO 8601 such as 2026-11-27T10:00:00Z, got \(text)")
            }
            time = value
        }
        let point: HistoryPoint
        switch (position, time) {
        case (let position?, let time?): point = .positionAndTime(position, time)
        case (let position?, nil): point = .position(position)
        case (nil, let time?): point = .time(time)
        case (nil, nil): point = .latest
        }
        let view = try await runtime.entity(aggregate: aggregate, id: id, at: point)
        if view.events.isEmpty, try await runtime.store.streamVersion(view.streamName) == nil {
            throw APIError(
                .notFound, code: "unknownEntity",
                message: "\(view.streamName) has no events: entity \(id) of \(view.aggregate) does not exist yet",
                extra: ["aggregate": .string(view.aggregate)])
        }
        var output = JSONOutput()
        output.object { object in
            object.string("aggregate", view.aggregate)
            object.string("streamName", view.streamName.rawValue)
            object.integer("version", view.version)
            object.string("moduleVersion", view.moduleVersion)
            object.value("state", view.state)
            object.member("events") { $0.array(view.events) { $0.event($1) } }
        }
        return Self.json(.ok, output.text)
    }

    func readStream(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try authorize(request, read: true)
        let stream = StreamName(unchecked: try Self.parameter("stream", context))
        if stream.isCategory {
            throw APIError(
                .badRequest, code: "invalidStreamName",
                message: "\(stream) is a category, not a stream (no '-'); read it with GET /v1/categories/\(stream)")
        }
        let query = request.uri.queryParameters
        let position = try Self.integer(query["position"], name: "position", default: 0, in: 0...Int64.max)
        let batchSize = try batchSize(query)
        return Self.json(.ok, JSONOutput.messages(try await runtime.store.readStream(stream, from: position, batchSize: batchSize)))
    }

    func readCategory(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try authorize(request, read: true)
        let category = try Self.parameter("category", context)
        let query = request.uri.queryParameters
        let position = try Self.integer(query["position"], name: "position", default: 1, in: 0...Int64.max)
        let batchSize = try batchSize(query)
        let group = try Self.consumerGroup(query)
        let messages = try await runtime.store.readCategory(
            category, from: position, batchSize: batchSize, correlation: try Self.correlation(query),
            consumerGroup: group)
        return Self.json(.ok, JSONOutput.messages(messages))
    }

    // MARK: Helpers

    /// Checks the bearer token, when the server has one. `read` marks endpoints that only
    /// read: they are open when the server was started with open reads.
    func authorize(_ request: Request, read: Bool = false) throws {
        try authorize(request.headers, read: read)
    }

    func authorize(_ headers: HTTPFields, read: Bool = false) throws {
        guard let token, !(read && limits.openReads) else { return }
        guard let header = headers[.authorization] else {
            throw APIError(
                .unauthorized, code: "unauthorized",
                message: "this server requires a bearer token: send Authorization: Bearer <token> (thalo --token)")
        }
        // The scheme is case-insensitive (RFC 9110 §11.1); the token is compared as is.
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIError(.unauthorized, code: "unauthorized", message: "the Authorization header must be Bearer <token>")
        }
        // Compare in constant time so that the token cannot be guessed byte by byte.
        let given = Array(parts[1].drop { $0 == " " }.utf8)
        let wanted = Array(token.utf8)
        var difference = given.count ^ wanted.count
        for index in 0..<wanted.count { difference |= Int((index < given.count ? given[index] : 0) ^ wanted[index]) }
        guard difference == 0 else {
            throw APIError(.unauthorized, code: "unauthorized", message: "the bearer token is wrong")
        }
    }

    func commandRequest(_ request: Request, _ context: BasicRequestContext) async throws -> CommandRequest {
        let aggregate = try Self.parameter("aggregate", context)
        let id = try Self.parameter("id", context)
        let command = try Self.parameter("command", context)
        let body = try await Self.collect(request, limit: limits.maximumCommandBodyBytes, what: "a command")
        return try commandRequest(request.headers, aggregate: aggregate, id: id, command: command, body: body)
    }

    func commandRequest(_ headers: HTTPFields, aggregate: String, id: String, command: String, body: ByteBuffer) throws -> CommandRequest {
        let payload = try Self.json(parsing: body, allowEmpty: true)
        guard case .object = payload else {
            throw APIError(
                .badRequest, code: "invalidPayload", message: "the command payload must be a JSON object, found \(payload.typeName)")
        }
        var commandID: UUID?
        if let key = headers[.idempotencyKey] {
            guard let id = UUID(uuidString: key) else {
                throw APIError(.badRequest, code: "invalidRequest", message: "Idempotency-Key must be a UUID (the command id), got \(key)")
            }
            commandID = id
        }
        var metadata = Metadata()
        metadata.correlationStreamName = headers[.correlationStreamName]
        metadata.replyStreamName = headers[.replyStreamName]
        if let correlation = metadata.correlationStreamName, let problem = StreamName.problem(in: correlation) {
            throw APIError(
                .badRequest, code: "invalidArgument", message: "Correlation-Stream-Name \"\(correlation)\" is not a stream name: \(problem)"
            )
        }

        return CommandRequest(
            aggregate: aggregate, id: id, command: command, payload: payload, commandID: commandID,
            metadata: metadata.isEmpty ? nil : metadata)
    }

    static func jsonBody(_ request: Request, limit: Int, what: String, allowEmpty: Bool = false) async throws -> JSONValue {
        try json(parsing: try await collect(request, limit: limit, what: what), allowEmpty: allowEmpty)
    }

    static func collect(_ request: Request, limit: Int, what: String) async throws -> ByteBuffer {
        var request = request
        do {
            return try await request.collectBody(upTo: limit)
        } catch {
            throw bodyTooLarge(limit: limit, what: what)
        }
    }

    static func bodyTooLarge(limit: Int, what: String) -> APIError {
        APIError(
            .contentTooLarge, code: "bodyTooLarge",
            message: "the body is larger than \(limit) bytes, the most this server accepts for \(what)")
    }

    static func json(parsing buffer: ByteBuffer, allowEmpty: Bool) throws -> JSONValue {
        if buffer.readableBytes == 0 && allowEmpty { return .object([:]) }
        do {
            return try buffer.withUnsafeReadableBytes { try JSONValue(parsing: $0) }
        } catch {
            throw APIError(.badRequest, code: "invalidJSON", message: "the body is not valid JSON: \(error)")
        }
    }

    static func parameter(_ name: String, _ context: BasicRequestContext) throws -> String {
        guard let raw = context.parameters.get(name) else {
            throw APIError(.badRequest, code: "invalidRequest", message: "missing \(name) in the path")
        }
        return decoded(raw)
    }

    /// A path segment as sent, percent-decoded. Most have nothing to decode; Foundation's
    /// decoder costs more than the rest of the routing.
    static func decoded(_ raw: some StringProtocol) -> String {
        guard raw.utf8.contains(UInt8(ascii: "%")) else { return String(raw) }
        return raw.removingPercentEncoding ?? String(raw)
    }

    static func integer(
        _ text: Substring?, name: String, default value: Int64, in range: ClosedRange<Int64> = Int64.min...Int64.max
    ) throws -> Int64 {
        guard let text else { return value }
        guard let parsed = Int64(text) else {
            throw APIError(.badRequest, code: "invalidArgument", message: "\(name) must be an integer, got \(text)")
        }
        guard range.contains(parsed) else {
            let bounds = range.upperBound == Int64.max ? "at least \(range.lowerBound)" : "from \(range.lowerBound) to \(range.upperBound)"
            throw APIError(.badRequest, code: "invalidArgument", message: "\(name) must be \(bounds), got \(parsed)")
        }
        return parsed
    }

    /// The `batchSize` of a read: 1 to ``APILimits/maximumBatchSize`` (default 1,000).
    func batchSize(_ query: FlatDictionary<Substring, Substring>, default value: Int64 = 1000) throws -> Int64 {
        try Self.integer(
            query["batchSize"], name: "batchSize", default: min(value, limits.maximumBatchSize), in: 1...limits.maximumBatchSize)
    }

    /// The `correlation` query parameter: a category name.
    static func correlation(_ query: FlatDictionary<Substring, Substring>) throws -> String? {
        guard let text = query["correlation"] else { return nil }
        do {
            try MessageStoreArguments.checkCategory(String(text))
        } catch {
            throw APIError(.badRequest, code: "invalidArgument", message: "correlation must be a category: \(error.message)")
        }
        return String(text)
    }

    static func consumerGroup(_ query: FlatDictionary<Substring, Substring>) throws -> ConsumerGroup? {
        let member = query["consumerGroupMember"]
        let size = query["consumerGroupSize"]
        guard member != nil || size != nil else { return nil }
        guard let member, let size, let memberValue = Int64(member), let sizeValue = Int64(size) else {
            throw APIError(
                .badRequest, code: "invalidArgument",
                message: "consumerGroupMember and consumerGroupSize must both be given, as integers")
        }
        do {
            return try ConsumerGroup(member: memberValue, size: sizeValue)
        } catch {
            throw APIError(error)
        }
    }

    static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: HTTPFields.json, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}

extension HTTPFields {
    /// The headers of every JSON answer.
    static let json: HTTPFields = [.contentType: "application/json; charset=utf-8"]
}

extension HTTPField.Name {
    static let idempotencyKey = Self("Idempotency-Key")!
    static let correlationStreamName = Self("Correlation-Stream-Name")!
    static let replyStreamName = Self("Reply-Stream-Name")!
    static let lastEventID = Self("Last-Event-ID")!
}
