import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSON
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Synchronization
import TestSupport
import Testing

@testable import ThaloServer

/// `POST /v1/execute/…` is answered in the connection's pipeline (``ExecuteFastPath``), not
/// by the router; these tests hold the two to the same answers and HTTP/1.1's order.
@Suite("HTTP API: the execute fast path")
struct ExecuteFastPathTests {
    static let token = "fast-path-token"

    /// One exchange as the client saw it, with what differs between two stores (times,
    /// positions, ids) masked.
    struct Answer: Equatable, CustomStringConvertible {
        var status: Int
        var headers: [String]
        var body: String
        var description: String { "\(status) \(headers) \(body)" }
    }

    /// The same requests, in the same order, on a fresh store each time.
    static func exchanges(_ client: any TestClientProtocol) async throws -> [Answer] {
        _ = try await publishBankAccount(client, token: token)
        let authorized: HTTPFields = [.authorization: "Bearer \(token)", .contentType: "application/json"]
        var answers: [Answer] = []
        func send(_ path: String, _ body: String?, _ headers: HTTPFields = authorized) async throws {
            let answer = try await client.execute(uri: path, method: .post, headers: headers, body: body.map { ByteBuffer(string: $0) }) {
                response in
                var text = String(buffer: response.body)
                for pattern in [#""time":"[^"]*""#, #""globalPosition":[0-9]+"#, #""id":"[^"]*""#, #""commandId":"[^"]*""#] {
                    text = text.replacingOccurrences(of: pattern, with: "…", options: .regularExpression)
                }
                let kept: [HTTPField.Name] = [.contentType, .wwwAuthenticate, .allow, .connection]
                return Answer(
                    status: Int(response.status.code), headers: kept.compactMap { name in response.headers[name].map { "\(name): \($0)" } },
                    body: text)
            }
            answers.append(answer)
        }
        let key = "0191a3e2-8c55-7cc0-9a0c-0123456789ab"
        var keyed = authorized
        keyed[.idempotencyKey] = key
        try await send("/v1/execute/BankAccount/f1/open_account", #"{"initial_balance": 5}"#, keyed)
        try await send("/v1/execute/BankAccount/f1/open_account", #"{"initial_balance": 5}"#, keyed)
        try await send("/v1/execute/BankAccount/f1/open_account", #"{"initial_balance": 6}"#, keyed)
        try await send("/v1/execute/BankAccount/f1/withdraw_funds", #"{"amount": 500}"#)
        try await send("/v1/execute/BankAccount/f1/deposit_funds", #"{"amount": "ten"}"#)
        try await send("/v1/execute/BankAccount/f1/deposit_funds", #"{"amount": 1"#)
        try await send("/v1/execute/BankAccount/f1/deposit_funds", "[1]")
        try await send("/v1/execute/BankAccount/f1/deposit_funds", nil)
        try await send("/v1/execute/BankAccount/f1/deposit_funds", String(repeating: " ", count: 300) + "{}")
        try await send("/v1/execute/BankAccount/f1/no_such_command", "{}")
        try await send("/v1/execute/NoSuchAggregate/f1/open", "{}")
        try await send("/v1/execute/BankAccount/f%C3%A9/open_account", #"{"initial_balance": 1}"#)
        try await send("/v1/execute/BankAccount/" + String(repeating: "x", count: 201) + "/open_account", "{}")
        try await send("/v1/execute/BankAccount/f1/deposit_funds?dry=1", #"{"amount": 1}"#)
        try await send("/v1/execute/BankAccount/f1/deposit_funds/", #"{"amount": 1}"#)
        var badKey = authorized
        badKey[.idempotencyKey] = "not-a-uuid"
        try await send("/v1/execute/BankAccount/f1/deposit_funds", #"{"amount": 1}"#, badKey)
        var badCorrelation = authorized
        badCorrelation[.correlationStreamName] = "a b"
        try await send("/v1/execute/BankAccount/f1/deposit_funds", #"{"amount": 1}"#, badCorrelation)
        var replying = authorized
        replying[.replyStreamName] = "replies-1"
        replying[.correlationStreamName] = "saga-1"
        try await send("/v1/execute/BankAccount/f1/deposit_funds", #"{"amount": 2}"#, replying)
        try await send("/v1/execute/BankAccount/f1/deposit_funds", #"{"amount": 1}"#, [:])
        try await send("/v1/execute/BankAccount/f1/deposit_funds", #"{"amount": 1}"#, [.authorization: "Bearer wrong"])
        try await send("/v1/execute/BankAccount/f1/deposit_funds", #"{"amount": 1}"#, [.authorization: "Basic abc"])
        var closing = authorized
        closing[.connection] = "close"
        try await send("/v1/execute/BankAccount/f1/deposit_funds", #"{"amount": 3}"#, closing)
        return answers
    }

    @Test("every kind of answer, errors included, is the router's answer")
    func sameAnswers() async throws {
        let limits = APILimits(maximumCommandBodyBytes: 256)
        let routed = try await collect(limits: limits, live: false)
        let fast = try await collect(limits: limits, live: true)
        #expect(routed.count == 22 && fast.count == routed.count)
        for (index, (route, path)) in zip(routed, fast).enumerated() {
            // The router's test client adds no Connection header; the live server's answer to
            // Connection: close carries one.
            var path = path
            path.headers.removeAll { $0.hasPrefix("Connection") }
            #expect(route == path, "request \(index)")
        }
        // The answers are what the API promises, not only alike.
        #expect(fast[0].status == 200 && fast[0].body.contains(#""outcome":"recorded""#))
        #expect(fast[1].status == 200 && fast[1].body.contains(#""outcome":"duplicate""#))
        #expect(fast[2].status == 409 && fast[2].body.contains("idempotencyKeyReused"))
        #expect(fast[3].status == 422 && fast[3].body.contains("insufficient funds"))
        #expect(fast[4...6].map(\.status) == [Int](repeating: 400, count: 3))
        #expect(fast[8].status == 413 && fast[8].body.contains("bodyTooLarge"), "\(fast[8])")
        #expect(fast[11].status == 200 && fast[11].body.contains(#""streamName":"bankAccount-fé""#), "\(fast[11])")
        #expect(fast[18].status == 401 && fast[18].headers.contains(#"WWW-Authenticate: Bearer realm="thalo""#))
        #expect(fast[21].status == 200)
    }

    func collect(limits: APILimits, live: Bool) async throws -> [Answer] {
        let answers = Shared<[Answer]>([])
        try await withAPI(token: Self.token, limits: limits, live: live) { client, _ in
            answers.set(try await Self.exchanges(client))
        }
        return answers.value
    }

    @Test("pipelined requests are answered in order, commands and routes mixed, and the connection goes on")
    func pipelined() async throws {
        try await withAPI(limits: APILimits(maximumCommandBodyBytes: 4096), live: true) { client, _ in
            _ = try await publishBankAccount(client)
            let port = try #require(client.port)
            let socket = try RawHTTPClient(port: port)
            func post(_ path: String, _ body: String) -> String {
                "POST \(path) HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            }
            let get = "GET /v1/aggregates/BankAccount/p1 HTTP/1.1\r\nHost: t\r\n\r\n"
            // A route first (the command after it waits for its answer), then commands and
            // reads of their effect, all in one write.
            try socket.send(
                get + post("/v1/execute/BankAccount/p1/open_account", #"{"initial_balance": 10}"#)
                    + post("/v1/execute/BankAccount/p1/deposit_funds", #"{"amount": 5}"#) + get
                    + post("/v1/execute/BankAccount/p1/withdraw_funds", #"{"amount": 100}"#) + get)
            let answers = try await socket.receiveAnswers(6)
            #expect(answers.map(\.status) == [404, 200, 200, 200, 422, 200], "\(answers)")
            #expect(answers[1].body.contains(#""type":"OpenedAccount""#))
            #expect(answers[2].body.contains(#""type":"DepositedFunds""#))
            #expect(answers[3].body.contains(#""balance":15"#), "\(answers[3].body)")
            #expect(answers[5].body.contains(#""balance":15"#))
            // The connection still serves, command by command.
            try socket.send(post("/v1/execute/BankAccount/p1/deposit_funds", #"{"amount": 1}"#))
            let next = try await socket.receiveAnswers(1)
            #expect(next.first?.status == 200)
            // A body over the limit is answered 413 and the connection goes on.
            try socket.send(post("/v1/execute/BankAccount/p1/deposit_funds", String(repeating: " ", count: 70_000)) + get)
            let large = try await socket.receiveAnswers(2)
            #expect(large.map(\.status) == [413, 200], "\(large)")
            #expect(large.last?.body.contains(#""balance":16"#) == true)
            socket.close()

            // A client that closes its sending side after its commands still gets every answer.
            let last = try await Self.exchange(
                port,
                post("/v1/execute/BankAccount/p1/deposit_funds", #"{"amount": 4}"#)
                    + post("/v1/execute/BankAccount/p1/deposit_funds", #"{"amount": 5}"#), answers: 2, halfClose: true)
            #expect(last.map(\.status) == [200, 200], "\(last)")
            #expect(last.last?.body.contains(#""amount":5"#) == true)

            // A malformed request pipelined behind a command: the command's answer, then the 400.
            let garbled = try await Self.exchange(
                port, post("/v1/execute/BankAccount/p1/deposit_funds", #"{"amount": 6}"#) + "GET /health HTTP/1.1\r\nHost t\r\n\r\n",
                answers: 2)
            #expect(garbled.map(\.status) == [200, 400], "\(garbled)")
            #expect(garbled.first?.body.contains(#""amount":6"#) == true)
        }
    }
}

extension ExecuteFastPathTests {
    /// Sends `text` on a connection of its own (then closes its sending side when
    /// `halfClose`) and reads `answers` answers.
    static func exchange(_ port: Int, _ text: String, answers: Int, halfClose: Bool = false) async throws -> [RawHTTPClient.RawAnswer] {
        let socket = try RawHTTPClient(port: port)
        defer { socket.close() }
        try socket.send(text)
        if halfClose { socket.shutdownWrite() }
        return try await socket.receiveAnswers(answers)
    }
}

/// A value a `@Sendable` closure and the test share.
final class Shared<Value: Sendable>: Sendable {
    private let state: Mutex<Value>
    init(_ value: Value) { state = Mutex(value) }
    var value: Value { state.withLock { $0 } }
    func set(_ value: Value) { state.withLock { $0 = value } }
}

extension RawHTTPClient {
    struct RawAnswer: CustomStringConvertible {
        var status: Int
        var body: String
        var description: String { "\(status) \(body)" }
    }

    /// Reads until `count` whole answers (each with a Content-Length) have arrived.
    func receiveAnswers(_ count: Int) async throws -> [RawAnswer] {
        var received = [UInt8]()
        while true {
            do {
                received += Array(try await receive().utf8)
            } catch {
                throw HarnessSocketError("\(error) after receiving: \(String(decoding: received, as: UTF8.self))")
            }
            var answers: [RawAnswer] = []
            var rest = received[...]
            while let end = rest.firstRange(of: Array("\r\n\r\n".utf8)) {
                let head = String(decoding: rest[rest.startIndex..<end.lowerBound], as: UTF8.self)
                let lines = head.split(separator: "\r\n")
                let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
                let length =
                    lines.first { $0.lowercased().hasPrefix("content-length:") }.flatMap {
                        Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces))
                    } ?? 0
                guard rest.distance(from: end.upperBound, to: rest.endIndex) >= length else { break }
                let bodyEnd = rest.index(end.upperBound, offsetBy: length)
                answers.append(RawAnswer(status: status, body: String(decoding: rest[end.upperBound..<bodyEnd], as: UTF8.self)))
                rest = rest[bodyEnd...]
            }
            if answers.count >= count { return answers }
        }
    }
}

/// The handler alone, in a test channel, with a command that runs until the test lets it go.
@Suite("HTTP API: the execute fast path in a channel")
struct ExecuteFastPathChannelTests {
    /// What passes the handler on its way to the router.
    final class Recorder: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPRequestPart
        var parts: [String] = []
        var quiesced = false
        var inputClosed = false
        var errors = 0

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): parts.append("head \(head.method) \(head.path ?? "")")
            case .body: parts.append("body")
            case .end: parts.append("end")
            }
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if event is ChannelShouldQuiesceEvent { quiesced = true }
            if let event = event as? ChannelEvent, event == .inputClosed { inputClosed = true }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            errors += 1
        }
    }

    /// A test channel with `handler` in front of a recorder, after a `GET /health` that the
    /// handler passed on to the router.
    static func channel(_ handler: ExecuteFastPath) async throws -> (NIOAsyncTestingChannel, Recorder) {
        let recorder = Recorder()
        let channel = NIOAsyncTestingChannel()
        try await channel.pipeline.addHandler(handler)
        try await channel.pipeline.addHandler(recorder)
        try await channel.writeInbound(head(.get, "/health"))
        try await channel.writeInbound(HTTPRequestPart.end(nil))
        return (channel, recorder)
    }

    /// The router's answer to the `GET /health` of ``channel(_:)``, written back through the handler.
    static func answerRoute(_ channel: NIOAsyncTestingChannel) async throws {
        try await channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .ok)))
        try await channel.writeOutbound(HTTPResponsePart.end(nil))
    }

    /// A handler whose commands say they started, then wait until the test yields to the
    /// continuation, then answer with `answer`.
    static func gated(
        _ answer: @escaping @Sendable ([Substring], ByteBuffer?) -> (HTTPResponse.Status, HTTPFields, String)
    ) -> (ExecuteFastPath, Shared<Bool>, AsyncStream<Void>.Continuation) {
        let (gate, opener) = AsyncStream<Void>.makeStream()
        let started = Shared(false)
        let handler = ExecuteFastPath(limit: 1024, serverName: "thalo") { _, segments, body in
            started.set(true)
            for await _ in gate { break }
            return answer(segments, body)
        }
        return (handler, started, opener)
    }

    static func head(_ method: HTTPRequest.Method, _ path: String) -> HTTPRequestPart {
        .head(HTTPRequest(method: method, scheme: nil, authority: "t", path: path))
    }

    @Test("a shutdown that begins while a command runs waits for its answer; what was pipelined behind it is not started")
    func shutdownWaitsForTheAnswer() async throws {
        let (handler, started, opener) = Self.gated { segments, body in
            (.ok, [.contentType: "application/json"], #"{"id":"\#(segments[1])","bytes":\#(body?.readableBytes ?? -1)}"#)
        }
        let (channel, recorder) = try await Self.channel(handler)
        try await Self.answerRoute(channel)
        try await channel.writeInbound(Self.head(.post, "/v1/execute/BankAccount/q1/deposit_funds"))
        try await channel.writeInbound(HTTPRequestPart.body(ByteBuffer(string: #"{"amount":1}"#)))
        try await channel.writeInbound(HTTPRequestPart.end(nil))
        try await channel.writeInbound(Self.head(.get, "/v1/aggregates/BankAccount/q1"))
        try await channel.writeInbound(HTTPRequestPart.end(nil))
        try await waitUntil("the command runs") { started.value }
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        try await channel.testingEventLoop.executeInContext {}
        #expect(recorder.parts == ["head GET /health", "end"], "only the route's request went on")
        #expect(!recorder.quiesced, "the shutdown waits while the command runs")

        // Drop what the router's answer wrote, then let the command finish.
        _ = try await channel.readOutbound(as: HTTPResponsePart.self)
        _ = try await channel.readOutbound(as: HTTPResponsePart.self)
        opener.yield()
        guard case .head(let response) = try await channel.waitForOutboundWrite(as: HTTPResponsePart.self) else {
            Issue.record("no answer head")
            return
        }
        #expect(response.status == .ok)
        #expect(response.headerFields[.server] == "thalo")
        #expect(response.headerFields[.contentLength] == "22")
        #expect(response.headerFields[.date]?.hasSuffix(" GMT") == true)
        guard case .body(let body) = try await channel.waitForOutboundWrite(as: HTTPResponsePart.self) else {
            Issue.record("no answer body")
            return
        }
        #expect(String(buffer: body) == #"{"id":"q1","bytes":12}"#)
        guard case .end = try await channel.waitForOutboundWrite(as: HTTPResponsePart.self) else {
            Issue.record("no answer end")
            return
        }
        try await channel.testingEventLoop.executeInContext {}
        #expect(recorder.quiesced, "the shutdown goes on after the answer")
        #expect(recorder.parts == ["head GET /health", "end"], "the read pipelined behind the command is not started")
        _ = try? await channel.finish()
    }

    @Test("the end of the client's input, and a decoding error, while a command runs reach the router only after the answer")
    func halfClosure() async throws {
        let (handler, started, opener) = Self.gated { _, _ in (.ok, [:], "{}") }
        let (channel, recorder) = try await Self.channel(handler)
        try await Self.answerRoute(channel)
        try await channel.writeInbound(Self.head(.post, "/v1/execute/BankAccount/q1/deposit_funds"))
        try await channel.writeInbound(HTTPRequestPart.end(nil))
        try await waitUntil("the command runs") { started.value }
        channel.pipeline.fireErrorCaught(ChannelError.inputClosed)
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        try await channel.testingEventLoop.executeInContext {}
        #expect(!recorder.inputClosed)
        #expect(recorder.errors == 0)
        opener.yield()
        for _ in 0..<5 { _ = try await channel.waitForOutboundWrite(as: HTTPResponsePart.self) }
        try await channel.testingEventLoop.executeInContext {}
        #expect(recorder.inputClosed)
        #expect(recorder.errors == 1)
        _ = try? await channel.finish()
    }

    @Test("commands pipelined behind a running one run one after another, and a route behind them waits for their answers")
    func pipelinedCommands() async throws {
        let handler = ExecuteFastPath(limit: 1024, serverName: "thalo") { _, segments, body in
            (.ok, [:], "\(segments[1]):\(body?.readableBytes ?? -1)")
        }
        let (channel, recorder) = try await Self.channel(handler)
        try await Self.answerRoute(channel)
        // Three commands and a route, read at once, before the first command has run.
        try await channel.testingEventLoop.executeInContext {
            for id in ["c1", "c2", "c3"] {
                channel.pipeline.fireChannelRead(NIOAny(Self.head(.post, "/v1/execute/BankAccount/\(id)/deposit_funds")))
                channel.pipeline.fireChannelRead(NIOAny(HTTPRequestPart.body(ByteBuffer(string: id + id))))
                channel.pipeline.fireChannelRead(NIOAny(HTTPRequestPart.end(nil)))
            }
            channel.pipeline.fireChannelRead(NIOAny(Self.head(.get, "/health")))
            channel.pipeline.fireChannelRead(NIOAny(HTTPRequestPart.end(nil)))
            channel.pipeline.fireChannelReadComplete()
        }
        var bodies: [String] = []
        while bodies.count < 3 {
            if case .body(let body) = try await channel.waitForOutboundWrite(as: HTTPResponsePart.self) {
                bodies.append(String(buffer: body))
            }
        }
        #expect(bodies == ["c1:4", "c2:4", "c3:4"])
        try await waitUntil("the route behind the commands is passed on") { recorder.parts.count == 4 }
        #expect(recorder.parts == ["head GET /health", "end", "head GET /health", "end"])
        _ = try? await channel.finish()
    }

    @Test("a command waits while a request passed to the router is unanswered")
    func commandBehindARoute() async throws {
        let handler = ExecuteFastPath(limit: 1024, serverName: "thalo") { _, _, _ in (.ok, [:], "{}") }
        let (channel, recorder) = try await Self.channel(handler)
        try await channel.writeInbound(Self.head(.post, "/v1/execute/BankAccount/q1/deposit_funds"))
        try await channel.writeInbound(HTTPRequestPart.end(nil))
        // /health is unanswered, so the command goes to the router behind it.
        #expect(recorder.parts == ["head GET /health", "end", "head POST /v1/execute/BankAccount/q1/deposit_funds", "end"])
        #expect(try await channel.readOutbound(as: HTTPResponsePart.self) == nil)
        _ = try? await channel.finish()
    }

    @Test("only POST /v1/execute/{aggregate}/{id}/{command} without query, Expect or Connection is taken")
    func whatIsTaken() {
        func taken(_ method: HTTPRequest.Method, _ path: String, _ fields: HTTPFields = [:]) -> Bool {
            ExecuteFastPath.command(HTTPRequest(method: method, scheme: nil, authority: "t", path: path, headerFields: fields)) != nil
        }
        #expect(taken(.post, "/v1/execute/A/1/c"))
        #expect(
            ExecuteFastPath.command(HTTPRequest(method: .post, scheme: nil, authority: "t", path: "/v1/execute/A/x%201/c")) == [
                "A", "x%201", "c",
            ])
        #expect(!taken(.get, "/v1/execute/A/1/c"))
        #expect(!taken(.put, "/v1/execute/A/1/c"))
        #expect(!taken(.post, "/v1/execute/A/1/c?x=1"))
        #expect(!taken(.post, "/v1/execute/A/1/c#f"))
        #expect(!taken(.post, "/v1/execute/A/1/c/"))
        #expect(!taken(.post, "/v1/execute/A//c"))
        #expect(!taken(.post, "/v1/execute/A/1"))
        #expect(!taken(.post, "/v1/execute/A/1/c/d"))
        #expect(!taken(.post, "/v1/submit/A/1/c"))
        #expect(!taken(.post, "/v1/executeX/A/1/c"))
        #expect(!taken(.post, "/v1/execute/A/1/c", [.connection: "close"]))
        #expect(!taken(.post, "/v1/execute/A/1/c", [.expect: "100-continue"]))
    }
}
