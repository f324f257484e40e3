import ESDL
import Foundation
import TestSupport
import Testing

@testable import ThaloRuntime

@Suite("Guest memory")
struct GuestMemoryTests {
    /// How many calls (handle and apply, alternating) the soak makes: a million in an
    /// optimised build (`swift test -c release -Xswiftc -enable-testing`), 40,000 in a
    /// debug build, where WasmKit's interpreter is some 30 times slower. Memory grows in
    /// 64 KiB pages, so 40,000 calls expose any leak of two bytes per call or more. (With
    /// 200,000 the two cases kept two threads busy for seven minutes, half of this machine
    /// for the whole test run; the million-call soak is `thalo-bench --only=soak`.)
    /// THALO_SOAK_CALLS overrides it.
    static let calls: Int = {
        if let text = ProcessInfo.processInfo.environment["THALO_SOAK_CALLS"], let value = Int(text) { return value }
        #if DEBUG
            return 40_000
        #else
            return 1_000_000
        #endif
    }()

    @Test("a Swift guest's memory stays flat over a million calls (40,000 in debug builds)", arguments: ["counter", "bank_account"])
    func flatMemory(example: String) async throws {
        let built = try await ExampleModules.shared.build(example)
        let schema = try Schema.parse(built.schema)
        let module = try AggregateModule(name: schema.aggregate.name, version: schema.version, schema: schema, bytes: built.wasm)
        let guest = try GuestInstance(module: module)
        let entity = try guest.newEntity(id: "soak")
        let command = example == "counter" ? "increment" : "deposit_funds"
        let event = example == "counter" ? "Incremented" : "DepositedFunds"
        if example == "bank_account" {
            _ = try guest.apply(entity, events: [Self.recorded("OpenedAccount", #"{"initial_balance":0}"#, position: 0)])
        }
        let pairs = Self.calls / 2
        // Minutes of CPU-bound work: run it on a thread of its own, not on the (two)
        // threads that every other concurrently running test shares.
        let box = GuestBox(guest)
        let (baseline, final, failures) = try await onOwnThread {
            let guest = box.guest
            let context = GuestContext(
                id: UUID().uuidString, streamName: "x:command-soak", position: -1, globalPosition: -1, metadata: "{}", time: 0)
            var baseline = 0
            var failures = 0
            for index in 0..<pairs {
                let events = try guest.handle(entity, command: command, payload: #"{"amount":1}"#, context: context).get()
                if try guest.apply(entity, events: [Self.recorded(event, events[0].payload, position: Int64(index + 1))]) != nil {
                    failures += 1
                }
                if index == 1_000 { baseline = guest.memoryBytes }
            }
            return (baseline, guest.memoryBytes, failures)
        }
        #expect(failures == 0)
        #expect(final == baseline, "memory grew from \(baseline) to \(final) bytes over \(pairs * 2) calls")
        #expect(try guest.state(entity) != nil)
    }

    static func recorded(_ type: String, _ payload: String, position: Int64) -> GuestRecordedEvent {
        GuestRecordedEvent(
            type: type, payload: payload,
            context: GuestContext(
                id: "00000000-0000-0000-0000-000000000000", streamName: "x-soak", position: position, globalPosition: position + 1,
                metadata: "{}", time: 0))
    }
}

/// Hands a guest instance to the soak's thread. `@unchecked Sendable`: the test does not
/// touch the instance while the thread runs.
/// Runs CPU-bound guest calls on a thread of their own, off the cooperative pool that
/// every concurrently running test shares, and returns what they gave.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

final class GuestBox: @unchecked Sendable {
    let guest: GuestInstance
    init(_ guest: GuestInstance) { self.guest = guest }
}
