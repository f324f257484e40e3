import ESDL
import Foundation
import JSON
import MessageStore
import Synchronization
import TestSupport
import Testing

@testable import ThaloRuntime

@Suite("Runtime: an instance replaced while a write is in flight")
struct StaleInstanceTests {
    @Test("a live upgrade during a command's append: the command succeeds and the entity is rebuilt, not patched through an old handle")
    func upgradeDuringAppend() async throws {
        try await withStore(.memory) { (store: AnyMessageStore) async throws -> Void in
            let gated = AppendProbe(store, watching: "bankAccount-g1")
            gated.hold()
            let runtime = Runtime(store: AnyModuleStore(AnyMessageStore(gated)), configuration: RuntimeConfiguration(instancesPerModule: 1))
            let built = try await ExampleModules.shared.build("bank_account")
            try await runtime.publish(schema: built.schema, wasm: built.wasm)
            _ = try await runtime.execute(bank("g2", "open_account", ["initial_balance": 7]))
            // The open of g1 reaches its append and waits there.
            let opened = Task { try await runtime.execute(bank("g1", "open_account", ["initial_balance": 100])) }
            try await gated.waitForArrivals(1)
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
