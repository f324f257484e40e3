import Foundation
import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Answers `POST /v1/execute/{aggregate}/{id}/{command}` in the channel pipeline, before
/// Hummingbird's per-connection task: the request's parts are collected here, the command
/// runs in a task of its own, and the answer is written from the event loop. Every other
/// request goes on to Hummingbird's router unchanged.
///
/// The answer is the route's own (``API/execute(head:segments:body:)`` shares its code),
/// with the `Date` and `Server` headers Hummingbird adds. The handler keeps HTTP/1.1's
/// order of answers: it takes a command only when no request it passed on is still
/// unanswered, it stops reading while a command runs, and parts that arrive meanwhile
/// (pipelined requests) are passed on only after its answer, as are a shutdown's quiesce
/// event, the end of the client's input and a decoding error. A request with
/// `Connection: close`, `Expect`, a query or an unusual path goes to the router.
///
/// A command that has started runs to its end even when the client goes away, as on the
/// router's path. Hummingbird's connection state handler does not see the commands taken
/// here: with an idle timeout configured it would count a connection that only sends
/// commands as idle, so ``Server/http(_:)`` sets none.
final class ExecuteFastPath: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// Runs one command: the request's head, the path's three segments, the body (nil
    /// when it passed `limit`).
    typealias Execute = @Sendable (HTTPRequest, [Substring], ByteBuffer?) async -> (HTTPResponse.Status, HTTPFields, String)

    private enum State {
        /// Between requests.
        case idle
        /// Passing a request's parts on to the router.
        case passing
        /// Collecting a command's body.
        case collecting(HTTPRequest, [Substring], ByteBuffer?)
        /// The command runs; reads wait and parts that arrive are held.
        case running
    }

    private let execute: Execute
    private let limit: Int
    private let serverName: String
    private var state = State.idle
    /// Requests passed to the router whose answer has not been written to its end.
    private var unanswered = 0
    private var held = CircularBuffer<HTTPRequestPart>()
    private var readHeld = false
    private var quiesceHeld = false
    /// The client closed its side (half-closure) while a command ran: the router's
    /// connection task would close the connection before the answer.
    private var inputClosedHeld = false
    /// An error from the decoder while a command ran (a malformed request pipelined behind
    /// it): the router would answer it with a 400 and close before the command's answer.
    private var errorHeld: (any Error)?
    private var date = HTTPDate()

    init(limit: Int, serverName: String, execute: @escaping Execute) {
        self.limit = limit
        self.serverName = serverName
        self.execute = execute
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        read(unwrapInboundIn(data), context: context)
    }

    private func read(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        switch state {
        case .running:
            held.append(part)
        case .collecting(let head, let segments, var body):
            switch part {
            case .body(var chunk):
                if var collected = body {
                    if collected.readableBytes + chunk.readableBytes > limit {
                        body = nil
                    } else {
                        collected.writeBuffer(&chunk)
                        body = collected
                    }
                }
                state = .collecting(head, segments, body)
            case .end:
                run(head, segments, body, context: context)
            case .head:
                // The decoder never sends a head before the last request's end.
                state = .passing
                unanswered += 1
                context.fireChannelRead(wrapInboundOut(part))
            }
        case .idle, .passing:
            if case .head(let head) = part {
                if unanswered == 0, let segments = Self.command(head) {
                    state = .collecting(head, segments, context.channel.allocator.buffer(capacity: 0))
                    return
                }
                state = .passing
                unanswered += 1
            } else if case .end = part {
                state = .idle
            }
            context.fireChannelRead(wrapInboundOut(part))
        }
    }

    private func run(_ head: HTTPRequest, _ segments: [Substring], _ body: ByteBuffer?, context: ChannelHandlerContext) {
        state = .running
        let execute = self.execute
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        Task {
            let answer = await execute(head, segments, body)
            eventLoop.execute { handler.value.answer(answer, context: boundContext.value) }
        }
    }

    private func answer(_ answer: (HTTPResponse.Status, HTTPFields, String), context: ChannelHandlerContext) {
        var headers = answer.1
        let body = context.channel.allocator.buffer(string: answer.2)
        headers[.contentLength] = String(body.readableBytes)
        headers[.date] = date.now
        headers[.server] = serverName
        context.write(wrapOutboundOut(.head(HTTPResponse(status: answer.0, headerFields: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        state = .idle
        if quiesceHeld {
            // The server is shutting down: the connection closes after this answer.
            quiesceHeld = false
            held.removeAll()
            context.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
            return
        }
        if !held.isEmpty {
            while !isRunning, let part = held.popFirst() { read(part, context: context) }
            // What was passed on is delivered at the end of a read, as if just read.
            context.fireChannelReadComplete()
        }
        if isRunning { return }
        if let error = errorHeld {
            errorHeld = nil
            context.fireErrorCaught(error)
        }
        if inputClosedHeld {
            inputClosedHeld = false
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        }
        if readHeld {
            readHeld = false
            context.read()
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // Never below zero: after a parse error the router answers 400 to a request it did
        // not get through here, and closes the connection.
        if case .end = unwrapOutboundIn(data) { unanswered = max(0, unanswered - 1) }
        context.write(data, promise: promise)
    }

    private var isRunning: Bool {
        if case .running = state { return true }
        return false
    }

    func read(context: ChannelHandlerContext) {
        if isRunning {
            readHeld = true
            return
        }
        context.read()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if isRunning {
            if errorHeld == nil { errorHeld = error }
            return
        }
        context.fireErrorCaught(error)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch state {
        case .running, .collecting:
            if event is ChannelShouldQuiesceEvent {
                quiesceHeld = true
                return
            }
            if case .running = state, let event = event as? ChannelEvent, event == .inputClosed {
                inputClosedHeld = true
                return
            }
        case .idle, .passing:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// The aggregate, id and command of `POST /v1/execute/{aggregate}/{id}/{command}`, as
    /// sent; nil for any other request, and for what the router should judge: a query, an
    /// empty segment, `Expect`, `Connection`.
    static func command(_ head: HTTPRequest) -> [Substring]? {
        guard head.method == .post, let path = head.path, path.hasPrefix("/v1/execute/"),
            head.headerFields[.expect] == nil, head.headerFields[.connection] == nil
        else { return nil }
        let rest = path.utf8.dropFirst(12)
        guard !rest.contains(UInt8(ascii: "?")), !rest.contains(UInt8(ascii: "#")) else { return nil }
        let segments = Substring(rest).split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count == 3, segments.allSatisfy({ !$0.isEmpty }) else { return nil }
        return segments
    }
}

/// The `Date` header's value (RFC 9110's IMF-fixdate), made at most once a second.
struct HTTPDate {
    private var second = 0
    private var text = ""

    var now: String {
        mutating get {
            let current = time(nil)
            if current != second || text.isEmpty {
                second = current
                var parts = tm()
                var seconds = current
                gmtime_r(&seconds, &parts)
                let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
                let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
                func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
                text =
                    "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
                    + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
            }
            return text
        }
    }
}
