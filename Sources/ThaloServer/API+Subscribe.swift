import Foundation
import Hummingbird
import MessageStore
import ServiceLifecycle
import ThaloRuntime

extension API {
    /// `GET /v1/categories/{category}/events`: the category as Server-Sent Events, caught up
    /// from a position and then live. Each event's `id` is the message's global position, so
    /// a client that reconnects with `Last-Event-ID` resumes right after what it saw.
    func subscribe(_ request: Request, _ context: BasicRequestContext) throws -> Response {
        let category = try Self.parameter("category", context)
        do {
            try MessageStoreArguments.checkCategory(category)
        } catch {
            throw APIError(error)
        }
        let query = request.uri.queryParameters
        var start = try Self.integer(query["position"], name: "position", default: 1)
        if let lastEventID = request.headers[.lastEventID] {
            guard let last = Int64(lastEventID.trimmingCharacters(in: .whitespaces)), last >= 0 else {
                throw APIError(.badRequest, code: "invalidArgument", message: "Last-Event-ID must be a global position, got \(lastEventID)")
            }
            start = last + 1
        }
        let batchSize = try Self.integer(query["batchSize"], name: "batchSize", default: 500)
        guard batchSize > 0 else {
            throw APIError(.badRequest, code: "invalidArgument", message: "batchSize must be positive")
        }
        let group = try Self.consumerGroup(query)
        let correlation = query["correlation"].map(String.init)
        let keepAlive = Double(query["keepAlive"] ?? "") ?? 15
        let store = runtime.store
        let logger = self.logger
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        let first = start
        let body = ResponseBody { writer in
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
                    logger.warning("event stream read failed", metadata: ["category": "\(category)", "error": "\(error)"])
                    try await writer.write(ByteBuffer(string: "event: error\ndata: \(APIError.from(error).body)\n\n"))
                    break
                }
                if batch.isEmpty {
                    if ContinuousClock.now - lastSent > .seconds(keepAlive) {
                        try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                        lastSent = .now
                    }
                    await store.writeNotifier.wait(category: category, seenWriteCount: seen, timeout: backoff.nextWait())
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
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }
}
