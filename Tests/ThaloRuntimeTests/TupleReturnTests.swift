import Foundation
import JSON
import MessageStore
import TestSupport
import Testing

@testable import ThaloRuntime

private func wallet(_ id: String, _ command: String, _ payload: JSONValue) -> CommandRequest {
    CommandRequest(aggregate: "Wallet", id: id, command: command, payload: payload)
}

/// ESDL tuples: a command emits every listed event, in order, written in one append.
@Suite("Runtime: commands that emit several events")
struct TupleReturnTests {
    @Test("a command's events are appended together, at consecutive positions, and applied in order", arguments: Backend.allCases)
    func severalEvents(backend: Backend) async throws {
        try await withRuntime(backend, publishing: ["wallet"]) { runtime in
            _ = try await runtime.execute(wallet("w", "top_up", ["amount": 60]))
            let sent = try await runtime.execute(wallet("w", "send", ["amount": 55, "to": "bob"]))
            let events = sent.outcome.events
            #expect(events.map(\.type) == ["Sent", "FeeCharged", "BalanceLow"])
            #expect(events.map(\.position) == [1, 2, 3])
            let first = try #require(events.first?.globalPosition)
            #expect(events.map(\.globalPosition) == [first, first + 1, first + 2])
            #expect(try events.map { try JSONValue(parsing: $0.data) } == [["amount": 55, "to": "bob"], ["fee": 1], ["balance": 4]])
            // One command, one causation: every event carries the same command id.
            let metadata = try events.map { try JSONValue(parsing: $0.metadata ?? "{}") }
            #expect(metadata.map { $0["commandId"] } == Array(repeating: .string(sent.commandID.lowercasedText), count: 3))

            let stored = try await runtime.store.readStream("wallet-w")
            #expect(stored.map(\.type) == ["ToppedUp", "Sent", "FeeCharged", "BalanceLow"])
            // Applied in order: the live entity and one rebuilt from the stream agree, and the
            // last event applied is the last one declared.
            let expected: JSONValue = ["balance": 4, "closed": false, "last": "BalanceLow"]
            #expect(try await runtime.entity(aggregate: "Wallet", id: "w").state == expected)
            #expect(try await runtime.entity(aggregate: "Wallet", id: "w", at: .position(3)).state == expected)
            #expect(
                try await runtime.entity(aggregate: "Wallet", id: "w", at: .position(2)).state == [
                    "balance": 4, "closed": false, "last": "FeeCharged",
                ])
            #expect(
                try await runtime.entity(aggregate: "Wallet", id: "w", at: .position(1)).state == [
                    "balance": 5, "closed": false, "last": "Sent",
                ])

            // Optional elements left out, a required one after them.
            let closed = try await runtime.execute(wallet("w", "close", [:]))
            #expect(closed.outcome.events.map(\.type) == ["PaidOut", "Closed"])
            let empty = try await runtime.execute(wallet("empty", "close", [:]))
            #expect(empty.outcome.events.map(\.type) == ["Closed"])
            #expect(empty.outcome.events.map(\.position) == [0])
        }
    }

    @Test("output that breaks the tuple's declaration is refused and nothing is written", arguments: [Backend.sqlite, .postgres])
    func brokenTuples(backend: Backend) async throws {
        try await withStore(backend) { (store: AnyMessageStore) async throws -> Void in
            let runtime = Runtime(store: AnyModuleStore(store))
            let (schema, wasm) = try await Fixtures.shared.misbehavingModule()
            try await runtime.publish(schema: schema, wasm: wasm)
            let ok = try await runtime.execute(CommandRequest(aggregate: "Misbehaving", id: "t", command: "pair_ok", payload: [:]))
            #expect(ok.outcome.events.map(\.type) == ["Done", "Other"])
            #expect(ok.outcome.events.map(\.position) == [0, 1])
            for (command, problem) in [
                ("pair_reversed", "returned 'Done' out of order"),
                ("pair_missing", "must return 'Done'"),
                ("pair_twice", "returned 'Done' more than once"),
            ] {
                let error = await #expect(throws: RuntimeError.self) {
                    try await runtime.execute(CommandRequest(aggregate: "Misbehaving", id: "t", command: command, payload: [:]))
                }
                #expect(error?.code == .invalidEvents)
                #expect(error?.message.contains(problem) == true, "\(error?.message ?? "")")
                #expect(error?.message.contains("(Done | Other?)") == true, "\(error?.message ?? "")")
            }
            #expect(try await store.readStream("misbehaving-t").map(\.type) == ["Done", "Other"])
        }
    }
}
