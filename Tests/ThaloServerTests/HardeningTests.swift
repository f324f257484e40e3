import AsyncHTTPClient
import Foundation
import Glibc
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSON
import MessageStore
import NIOCore
import TestSupport
import Testing
import ThaloRuntime

@testable import ThaloServer

/// Requests an attacker or a careless user would send: each gets a clear 4xx (or 503)
/// and the server stays up.
@Suite("HTTP API: hardening")
struct HardeningTests {
    @Test("Last-Event-ID and keepAlive values that used to crash the server are 400s, and the server stays up")
    func subscribeArguments() async throws {
        try await withAPI { client, _ in
            let cases: [(String, HTTPFields)] = [
                ("/v1/categories/x/events", [.lastEventID: "9223372036854775807"]),
                ("/v1/categories/x/events", [.lastEventID: "-1"]),
                ("/v1/categories/x/events", [.lastEventID: "99999999999999999999"]),
                ("/v1/categories/x/events?keepAlive=nan", [:]),
                ("/v1/categories/x/events?keepAlive=1e300", [:]),
                ("/v1/categories/x/events?keepAlive=inf", [:]),
                ("/v1/categories/x/events?keepAlive=0", [:]),
                ("/v1/categories/x/events?batchSize=0", [:]),
                ("/v1/categories/x/events?batchSize=-1", [:]),
                ("/v1/categories/x/events?position=-5", [:]),
                ("/v1/categories/x/events?consumerGroupMember=1", [:]),
                ("/v1/categories/x/events?consumerGroupMember=3&consumerGroupSize=2", [:]),
            ]
            for (uri, headers) in cases {
                let (status, body, _) = try await client.json(uri, headers: headers)
                #expect(status == 400, "\(uri) \(headers)")
                #expect(body["error"]?["code"] == "invalidArgument", "\(uri): \(body)")
            }
            #expect(try await client.json("/health").0 == 200)
        }
    }

    @Test("reads have a documented maximum batch size and refuse negative positions and category names as streams")
    func readBounds() async throws {
        try await withAPI(limits: APILimits(maximumBatchSize: 50)) { client, _ in
            for uri in [
                "/v1/streams/a-1?batchSize=-1", "/v1/streams/a-1?batchSize=51", "/v1/streams/a-1?batchSize=0",
                "/v1/streams/a-1?position=-1", "/v1/categories/a?batchSize=-1", "/v1/categories/a?batchSize=1000000",
                "/v1/categories/a?position=-2",
            ] {
                let (status, body, _) = try await client.json(uri)
                #expect(status == 400, "\(uri)")
                #expect(body["error"]?["message"]?.stringValue?.isEmpty == false)
            }
            #expect(try await client.json("/v1/streams/a-1?batchSize=50").0 == 200)
            let (status, body, _) = try await client.json("/v1/streams/bankAccount")
            #expect(status == 400)
            #expect(body["error"]?["code"] == "invalidStreamName")
            #expect(body["error"]?["message"]?.stringValue?.contains("/v1/categories/bankAccount") == true)
        }
    }

    @Test("event-stream subscribers are capped, and a client that goes away frees its place at once")
    func subscriberCap() async throws {
        try await withAPIServer(limits: APILimits(maximumSubscribers: 1), live: true) { client, _, api in
            let port = try #require(client.port)
            // A raw socket, so that the test decides exactly when the client goes away.
            let socket = try RawHTTPClient(port: port)
            try socket.send("GET /v1/categories/capped/events?keepAlive=300 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let head = try await socket.receive()
            #expect(head.hasPrefix("HTTP/1.1 200"), "\(head)")
            try await waitUntil("one subscriber") { api.subscribers.current == 1 }
            let (status, body, _) = try await client.json("/v1/categories/capped/events")
            #expect(status == 503)
            #expect(body["error"]?["code"] == "tooManySubscribers")
            // The client disconnects while the stream is idle (no write would notice it for 300 s).
            socket.close()
            try await waitUntil("no subscriber") { api.subscribers.current == 0 }
            let events = try await readEvents(port: port, path: "/v1/categories/capped/events?position=1", count: 0)
            #expect(events.isEmpty)
        }
    }

    @Test("idempotency keys: another key is another command; a reused key for something else is 409 idempotencyKeyReused")
    func idempotencyKeys() async throws {
        try await withAPI { client, _ in
            _ = try await publishBankAccount(client)
            _ = try await client.json("/v1/execute/BankAccount/i1/open_account", .post, body: ["initial_balance": 0])
            let first: HTTPFields = [.idempotencyKey: "11111111-1111-1111-1111-111111111111"]
            let second: HTTPFields = [.idempotencyKey: "22222222-2222-2222-2222-222222222222"]
            let a = try await client.json("/v1/execute/BankAccount/i1/deposit_funds", .post, body: ["amount": 1], headers: first)
            let b = try await client.json("/v1/execute/BankAccount/i1/deposit_funds", .post, body: ["amount": 1], headers: second)
            #expect(a.1["outcome"] == "recorded")
            #expect(b.1["outcome"] == "recorded", "\(b.2)")
            let repeated = try await client.json("/v1/execute/BankAccount/i1/deposit_funds", .post, body: ["amount": 1], headers: second)
            #expect(repeated.1["outcome"] == "duplicate")
            let reused = try await client.json("/v1/execute/BankAccount/i1/deposit_funds", .post, body: ["amount": 2], headers: second)
            #expect(reused.0 == 409)
            #expect(reused.1["error"]?["code"] == "idempotencyKeyReused")
            let elsewhere = try await client.json(
                "/v1/execute/BankAccount/i2/open_account", .post, body: ["initial_balance": 1], headers: second)
            #expect(elsewhere.0 == 409)
            #expect(elsewhere.1["error"]?["code"] == "idempotencyKeyReused")
            let stream = try await client.json("/v1/streams/bankAccount-i1")
            #expect(stream.1["messages"]?.arrayValue?.count == 3)
        }
    }

    @Test(
        "reply streams and entity ids are checked at submit: malformed, too long or inside an aggregate's events is 400 and nothing is written"
    )
    func replyStreams() async throws {
        try await withAPI { client, _ in
            _ = try await publishBankAccount(client)
            for reply in ["oops-", "bankAccount-1", "-x", "r-" + String(repeating: "x", count: 299)] {
                let (status, body, _) = try await client.json(
                    "/v1/submit/BankAccount/s1/open_account", .post, body: ["initial_balance": 1], headers: [.replyStreamName: reply])
                #expect(status == 400, "\(reply)")
                #expect(body["error"]?["code"] == "invalidReplyStream", "\(reply): \(body)")
            }
            let stream = try await client.json("/v1/streams/bankAccount:command-s1")
            #expect(stream.1["messages"]?.arrayValue?.isEmpty == true)
            // An entity id longer than 200 characters is refused the same way.
            let longID = String(repeating: "i", count: 201)
            let (status, body, _) = try await client.json(
                "/v1/submit/BankAccount/\(longID)/open_account", .post, body: ["initial_balance": 1])
            #expect(status == 400)
            #expect(body["error"]?["code"] == "invalidEntityID", "\(body)")
        }
    }

    @Test("bodies are capped per route with 413, and a payload with a million bad keys gets a short report")
    func bodyLimits() async throws {
        try await withAPI(limits: APILimits(maximumCommandBodyBytes: 64 << 10, maximumPublishBodyBytes: 32 << 20)) { client, _ in
            _ = try await publishBankAccount(client)
            let big = JSONValue.object(["amount": .string(String(repeating: "9", count: 70_000))])
            let (status, body, _) = try await client.json("/v1/execute/BankAccount/b/deposit_funds", .post, body: big)
            #expect(status == 413)
            #expect(body["error"]?["code"] == "bodyTooLarge")
            #expect(body["error"]?["message"]?.stringValue?.contains("65536 bytes") == true)
            // Many unknown keys within the limit (and the required amount missing): listed up to the cap, then counted.
            var members: [String: JSONValue] = [:]
            for index in 0..<3_000 { members["k\(index)"] = .integer(1) }
            let (invalid, report, text) = try await client.json("/v1/execute/BankAccount/b/deposit_funds", .post, body: .object(members))
            #expect(invalid == 400)
            let details = report["error"]?["details"]?.arrayValue ?? []
            #expect(details.count == 101, "\(details.count)")
            #expect(details.last?["code"] == "more-problems")
            #expect(details.last?["message"]?.stringValue?.hasPrefix("2901 more problems") == true, "\(String(describing: details.last))")
            #expect(text.utf8.count < 20_000)
        }
    }

    @Test("method not allowed on a known path is 405 with Allow; an unknown path is 404")
    func methods() async throws {
        try await withAPI { client, _ in
            let (status, body, _) = try await client.json("/v1/modules", .delete)
            #expect(status == 405)
            #expect(body["error"]?["code"] == "methodNotAllowed")
            let allow = try await client.execute(uri: "/v1/execute/A/1/c", method: .get) { $0.headers[.allow] }
            #expect(allow == "POST")
            #expect(try await client.json("/v1/nothing/here").0 == 404)
        }
    }

    @Test("an entity without events is 404 unknownEntity")
    func unknownEntity() async throws {
        try await withAPI { client, _ in
            _ = try await publishBankAccount(client)
            let (status, body, _) = try await client.json("/v1/aggregates/BankAccount/999")
            #expect(status == 404)
            #expect(body["error"]?["code"] == "unknownEntity")
            _ = try await client.json("/v1/execute/BankAccount/1/open_account", .post, body: ["initial_balance": 3])
            #expect(try await client.json("/v1/aggregates/BankAccount/1").0 == 200)
            // Both bounds: whichever comes first.
            let (bounded, view, _) = try await client.json("/v1/aggregates/BankAccount/1?position=5&time=2000-01-01T00:00:00Z")
            #expect(bounded == 200)
            #expect(view["version"] == -1)
        }
    }

    @Test("an empty token is refused at start")
    func emptyToken() throws {
        #expect(throws: ServerOptionsError.self) { try ServerOptions(token: "").validate() }
        #expect(throws: ServerOptionsError.self) { try ServerOptions(token: "a b").validate() }
        try ServerOptions(token: "s3cret").validate()
        try ServerOptions(token: nil).validate()
    }
}

/// A TCP client for one raw HTTP exchange.
final class RawHTTPClient {
    private var descriptor: Int32

    init(port: Int) throws {
        // Close-on-exec: a child process started meanwhile by another test (a `thalo serve`)
        // must not inherit the socket, or closing it here would not close the connection.
        descriptor = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else { throw HarnessSocketError("connect failed: \(errno)") }
    }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard Glibc.send(descriptor, bytes, bytes.count, 0) == bytes.count else { throw HarnessSocketError("send failed") }
    }

    /// What the server sent so far (up to 64 KiB), waiting up to 120 s for the first bytes.
    ///
    /// It polls instead of blocking in `recv`: a blocked thread of the cooperative pool
    /// (two threads on two cores) is one the in-process server cannot use to answer.
    func receive() async throws -> String {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = ContinuousClock.now + .seconds(120)
        while true {
            let count = Glibc.recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count > 0 { return String(decoding: buffer[0..<count], as: UTF8.self) }
            guard count < 0, errno == EAGAIN || errno == EWOULDBLOCK, ContinuousClock.now < deadline else {
                throw HarnessSocketError("receive failed (\(count < 0 ? "errno \(errno)" : "closed"))")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Closes the sending side only (half-closure): the server sees the end of its input.
    func shutdownWrite() {
        _ = Glibc.shutdown(descriptor, Int32(SHUT_WR))
    }

    func close() {
        if descriptor >= 0 { _ = Glibc.close(descriptor) }
        descriptor = -1
    }

    deinit { close() }
}

struct HarnessSocketError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
