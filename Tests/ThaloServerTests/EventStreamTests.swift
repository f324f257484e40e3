import AsyncHTTPClient
import Foundation
import HummingbirdTesting
import JSON
import MessageStore
import NIOCore
import NIOHTTP1
import TestSupport
import Testing
import ThaloRuntime

@testable import ThaloServer

/// Reads Server-Sent Events from a live server until `count` events arrived.
func readEvents(port: Int, path: String, lastEventID: String? = nil, count: Int) async throws -> [(id: String, message: JSONValue)] {
    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
    if let lastEventID { request.headers.add(name: "Last-Event-ID", value: lastEventID) }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
    #expect(response.status == .ok)
    #expect(response.headers["Content-Type"].first?.hasPrefix("text/event-stream") == true)
    var events: [(String, JSONValue)] = []
    var pending = ""
    for try await chunk in response.body {
        pending += String(buffer: chunk)
        while let end = pending.range(of: "\n\n") {
            let block = pending[..<end.lowerBound]
            pending = String(pending[end.upperBound...])
            var id = ""
            var data = ""
            for line in block.split(separator: "\n") {
                if line.hasPrefix("id: ") { id = String(line.dropFirst(4)) }
                if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
            }
            if !data.isEmpty { events.append((id, try JSONValue(parsing: data))) }
        }
        if events.count >= count { break }
    }
    return events
}

@Suite("Server-Sent Events")
struct EventStreamTests {
    @Test("a category streams catch-up then live, and resumes after Last-Event-ID without loss or repeats")
    func resume() async throws {
        try await withAPI(live: true) { client, runtime in
            let port = try #require(client.port)
            for index in 0..<3 {
                try await runtime.store.write(
                    NewMessage(type: "Counted", data: ["n": .integer(Int64(index))]), to: StreamName(unchecked: "tally-\(index % 2)"))
            }
            let first = try await readEvents(port: port, path: "/v1/categories/tally/events", count: 3)
            #expect(first.map { $0.message["data"]?["n"] } == [0, 1, 2])
            #expect(first.map(\.id) == first.map { String($0.message["globalPosition"]?.integerValue ?? -1) })
            // Written while nobody listens.
            for index in 3..<5 {
                try await runtime.store.write(
                    NewMessage(type: "Counted", data: ["n": .integer(Int64(index))]), to: StreamName(unchecked: "tally-\(index % 2)"))
            }
            // Live: one more arrives while the resumed stream is open.
            let writer = Task {
                try await Task.sleep(for: .milliseconds(300))
                try await runtime.store.write(NewMessage(type: "Counted", data: ["n": 5]), to: "tally-9")
            }
            let resumed = try await readEvents(port: port, path: "/v1/categories/tally/events", lastEventID: first.last!.id, count: 3)
            try await writer.value
            #expect(resumed.map { $0.message["data"]?["n"] } == [3, 4, 5])
            let member = try await readEvents(
                port: port, path: "/v1/categories/tally/events?consumerGroupMember=0&consumerGroupSize=2", count: 1)
            let stream = StreamName(unchecked: member[0].message["streamName"]?.stringValue ?? "")
            #expect(ConsumerGroup.partition(of: stream, size: 2) == 0)
            let (status, _, _) = try await client.json("/v1/categories/tally-1/events")
            #expect(status == 400)
        }
    }
}
