import Foundation
import Hummingbird
import Logging
import MessageStore
import ServiceLifecycle
import ThaloRuntime

extension API {
    /// `GET /v1/categories/{category}/events`: the category as Server-Sent Events, caught up
    /// from a position and then live. Each event's `id` is the message's global position, so
    /// a client that reconnects with `Last-Event-ID` resumes right after what it saw.
    func subscribe(_ request: Request, _ context: BasicRequestContext) throws -> Response {
        try authorize(request, read: true)
        let category = try Self.parameter("category", context)
        do {
            try MessageStoreArguments.checkCategory(category)
        } catch {
            throw APIError(error)
        }
        let query = request.uri.queryParameters
        var start = try Self.integer(query["position"], name: "position", default: 1, in: 0...Int64.max)
        if let lastEventID = request.headers[.lastEventID] {
            // Any number from outside is checked before arithmetic: the next position must exist.
            guard let last = Int64(lastEventID.trimmingCharacters(in: .whitespaces)), last >= 0, last < Int64.max else {
                throw APIError(
                    .badRequest, code: "invalidArgument",
                    message: "Last-Event-ID must be a global position from 0 to \(Int64.max - 1), got \(lastEventID)")
            }
            start = last + 1
        }
        let batchSize = try batchSize(query, default: 500)
        let group = try Self.consumerGroup(query)
        let correlation = try Self.correlation(query)
        let keepAlive = try Self.keepAlive(query["keepAlive"])
        guard subscribers.enter() else {
            throw APIError(
                .serviceUnavailable, code: "tooManySubscribers",
                message: "this server already has \(subscribers.limit) event-stream subscribers, its maximum; try again later")
        }
        let subscribers = self.subscribers
        let store = runtime.store
        let logger = self.logger
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        let first = start
        let body = ResponseBody { writer in
            defer { subscribers.leave() }
            // The loop ends when the client goes away (the request's inbound side closes),
            // on shutdown, or when a write fails.
            do {
                try await request.body.consumeWithCancellationOnInboundClose { _ in
                    try await Self.follow(
                        category: category, from: first, batchSize: batchSize, group: group, correlation: correlation,
                        keepAlive: keepAlive, store: store, logger: logger, writer: &writer)
                }
            } catch is CancellationError {
                return
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    /// The `keepAlive` query parameter: seconds within ``APILimits/keepAliveSeconds``.
    static func keepAlive(_ text: Substring?) throws -> Duration {
        guard let text else { return .seconds(APILimits.defaultKeepAliveSeconds) }
        let range = APILimits.keepAliveSeconds
        guard let seconds = Double(text), seconds.isFinite, range.contains(seconds) else {
            throw APIError(
                .badRequest, code: "invalidArgument",
                message: "keepAlive must be a number of seconds from \(Int(range.lowerBound)) to \(Int(range.upperBound)), got \(text)")
        }
        return .milliseconds(Int64(seconds * 1000))
    }

    private static func follow(
        category: String, from first: Int64, batchSize: Int64, group: ConsumerGroup?, correlation: String?, keepAlive: Duration,
        store: Store, logger: Logger, writer: inout any ResponseBodyWriter
    ) async throws {
        var position = first
        var backoff = Backoff(minimum: .milliseconds(10), maximum: .seconds(1))
        var lastSent = ContinuousClock.now
        // An opening comment, so that clients see the stream is open at once.
        try await writer.write(ByteBuffer(string: ": thalo category \(category) from \(position)\n\n"))
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let seen = store.writeNotifier.writeCount(category: category)
            let batch: [Message]
            do {
                batch = try await store.readCategory(
                    category, from: position, batchSize: batchSize, correlation: correlation, consumerGroup: group, condition: nil)
            } catch {
                if Task.isCancelled { return }
                logger.warning("event stream read failed", metadata: ["category": "\(category)", "error": "\(error)"])
                try await writer.write(ByteBuffer(string: "event: error\ndata: \(APIError.from(error).body)\n\n"))
                return
            }
            if batch.isEmpty {
                if ContinuousClock.now - lastSent >= keepAlive {
                    try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    lastSent = .now
                }
                _ = await store.writeNotifier.wait(
                    category: category, seenWriteCount: seen, timeout: min(backoff.nextWait(), keepAlive))
                continue
            }
            backoff.reset()
            var chunk = ""
            for message in batch {
                var output = JSONOutput()
                output.message(message)
                chunk += "id: \(message.globalPosition)\ndata: \(output.text)\n\n"
            }
            try await writer.write(ByteBuffer(string: chunk))
            lastSent = .now
            position = batch.last!.globalPosition + 1
        }
    }
}
