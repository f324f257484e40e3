import ESDL
import Foundation
import JSON
import MessageStore
import Synchronization
import TestSupport
import Testing

@testable import ThaloRuntime

/// A store that holds the appends to one stream until released, so that a test can change
/// the runtime (break or replace an instance) while a command's write is in flight.
final class GatedStore: MessageStore, Sendable {
    let base: AnyMessageStore
    let stream: StreamName
    private let state = Mutex<(arrived: Bool, released: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, false, []))

    init(_ base: AnyMessageStore, holding stream: StreamName) {
        self.base = base
        self.stream = stream
    }

    /// Waits until an append to the held stream has arrived.
    func waitForHeldAppend() async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while !state.withLock({ $0.arrived }) {
            guard ContinuousClock.now < deadline else { throw RuntimeError(.unavailable, "no append arrived") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Lets the held append (and every later one) through.
    func release() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.released = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    var writeNotifier: WriteNotifier { base.writeNotifier }

    func append(_ messages: [NewMessage], to stream: StreamName, expectedVersion: ExpectedVersion?) async throws -> WriteResult {
        if stream == self.stream {
            await withCheckedContinuation { continuation in
                let go = state.withLock { state -> Bool in
                    state.arrived = true
                    if state.released { return true }
                    state.waiters.append(continuation)
                    return false
                }
                if go { continuation.resume() }
            }
        }
        return try await base.append(messages, to: stream, expectedVersion: expectedVersion)
    }
    func readStream(_ stream: StreamName, from position: Int64, batchSize: Int64, condition: String?) async throws -> [Message] {
        try await base.readStream(stream, from: position, batchSize: batchSize, condition: condition)
    }
    func readCategory(
        _ category: String, from globalPosition: Int64, batchSize: Int64, correlation: String?, consumerGroup: ConsumerGroup?,
        condition: String?
    ) async throws -> [Message] {
        try await base.readCategory(
            category, from: globalPosition, batchSize: batchSize, correlation: correlation, consumerGroup: consumerGroup,
            condition: condition)
    }
    func lastMessage(in stream: StreamName, type: String?) async throws -> Message? { try await base.lastMessage(in: stream, type: type) }
    func streamVersion(_ stream: StreamName) async throws -> Int64? { try await base.streamVersion(stream) }
    func lastGlobalPosition() async throws -> Int64 { try await base.lastGlobalPosition() }
}

@Suite("Runtime: an instance replaced while a write is in flight")
struct StaleInstanceTests {
    @Test("a live upgrade during a command's append: the command succeeds and the entity is rebuilt, not patched through an old handle")
    func upgradeDuringAppend() async throws {
        try await withStore(.memory) { (store: AnyMessageStore) async throws -> Void in
            let gated = GatedStore(store, holding: "bankAccount-g1")
            let runtime = Runtime(store: AnyModuleStore(AnyMessageStore(gated)), configuration: RuntimeConfiguration(instancesPerModule: 1))
            let built = try await ExampleModules.shared.build("bank_account")
            try await runtime.publish(schema: built.schema, wasm: built.wasm)
            _ = try await runtime.execute(bank("g2", "open_account", ["initial_balance": 7]))
            // The open of g1 reaches its append and waits there.
            let opened = Task { try await runtime.execute(bank("g1", "open_account", ["initial_balance": 100])) }
            try await gated.waitForHeldAppend()
            // Meanwhile a new version is published: the instance the command started in is dropped.
            try await runtime.publish(schema: built.schema.replacingOccurrences(of: "0.1.0", with: "0.1.1"), wasm: built.wasm)
            gated.release()
            let result = try await opened.value
            #expect(result.outcome.events.map(\.type) == ["OpenedAccount"])
            // Both entities go on under the new version with their own state.
            let deposited = try await runtime.execute(bank("g1", "deposit_funds", ["amount": 1]))
            #expect(deposited.moduleVersion == "0.1.1")
            _ = try await runtime.execute(bank("g2", "deposit_funds", ["amount": 1]))
            #expect(try await runtime.entity(aggregate: "BankAccount", id: "g1").state?["balance"] == 101)
            #expect(try await runtime.entity(aggregate: "BankAccount", id: "g2").state?["balance"] == 8)
            let overdraft = await #expect(throws: RuntimeError.self) {
                try await runtime.execute(bank("g2", "withdraw_funds", ["amount": 9]))
            }
            #expect(overdraft?.code == .rejected)
        }
    }
}
