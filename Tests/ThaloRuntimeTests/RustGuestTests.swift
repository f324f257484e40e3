import ESDL
import Foundation
import GuestBuilder
import JSON
import MessageStore
import TestSupport
import Testing

@testable import ThaloRuntime

/// Rust guests through the runtime: generated code of every ESDL form, tuples included, and
/// the project `thalo new --lang rust` scaffolds.
@Suite("Rust guests")
struct RustGuestTests {
    /// Builds `Tests/Fixtures/rust_order/order.rs` against everything.esdl.
    static func orderModule() async throws -> (schema: String, wasm: [UInt8]) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("thalo-rust-order-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let schema = try String(
            contentsOf: ExampleModules.repositoryRoot.appendingPathComponent("Examples/schemas/everything.esdl"), encoding: .utf8)
        try schema.write(to: folder.appendingPathComponent("everything.esdl"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(
            at: ExampleModules.repositoryRoot.appendingPathComponent("Tests/Fixtures/rust_order/order.rs"),
            to: folder.appendingPathComponent("order.rs"))
        let result = try await GuestBuilder().build(directory: folder)
        #expect(result.language == .rust)
        return (schema, try [UInt8](Data(contentsOf: result.wasmURL)))
    }

    @Test("every ESDL form round-trips through a Rust module, and tuples emit their events in order")
    func everyForm() async throws {
        let (schema, wasm) = try await Self.orderModule()
        try await withStore(.sqlite) { (store: AnyMessageStore) async throws -> Void in
            let runtime = Runtime(store: AnyModuleStore(store))
            try await runtime.publish(schema: schema, wasm: wasm)
            func order(_ command: String, _ payload: JSONValue) async throws -> [RecordedEvent] {
                try await runtime.execute(CommandRequest(aggregate: "Order", id: "1", command: command, payload: payload)).outcome.events
            }
            let placed = try await order(
                "place",
                [
                    "customer": "Ada", "quantity": 2, "total_cents": 9_007_199_254_740_993, "weight": 1.5,
                    "exchange_rate": 0.25, "gift": true, "signature": "aGk=",
                ])
            #expect(try JSONValue(parsing: placed[0].data)["total_cents"] == .integer(9_007_199_254_740_993))
            #expect(try JSONValue(parsing: placed[0].data)["signature"] == "aGk=")
            let address: JSONValue = ["street": "Main", "city": "Oslo", "country": ["code": "NO", "name": "Norway"], "location": nil]
            let shipped = try await order("ship", ["address": address])
            #expect(shipped.map(\.type) == ["Shipped", "Rejected"])
            #expect(shipped.map(\.position) == [1, 2])
            #expect(try await order("ship", ["address": address, "tracking": "T1"]).map(\.type) == ["Shipped"])
            #expect(try await order("archive", [:]).map(\.type) == ["Touched", "Rejected"])
            #expect(try await order("amend", ["tags": [], "matrix": [], "lines": []]).map(\.type) == ["Rejected"])
            let amended = try await order("amend", ["tags": ["a"], "labels": ["x", nil], "matrix": [[1], [2, 3]], "lines": []])
            #expect(try JSONValue(parsing: amended[0].data)["matrix"] == [[1], [2, 3]])
            let configured = try await order("configure", ["default": true, "class": "c", "self": 7, "type": "t"])
            #expect(try JSONValue(parsing: configured[0].data)["self"] == 7)
            let state = try await runtime.entity(aggregate: "Order", id: "1").state
            #expect(state?["rejections"] == ["no tracking", "archived", "nothing to amend"])
            #expect(state?["touches"] == 1)
        }
    }

    @Test("thalo new --lang rust scaffolds a project whose spec passes")
    func scaffold() async throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("thalo-rust-new-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        let folder = try Scaffold.create(name: "ShoppingCart", in: parent, language: .rust)
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("shopping_cart.rs").path))
        let result = try await GuestBuilder().build(directory: folder)
        #expect(result.language == .rust)
        let module = try AggregateModule(
            name: result.schema.aggregate.name, version: result.schema.version, schema: result.schema,
            bytes: try [UInt8](Data(contentsOf: result.wasmURL)))
        let spec = try AggregateSpec(
            jsonText: String(contentsOf: folder.appendingPathComponent("Tests/shopping_cart.spec.json"), encoding: .utf8))
        let outcomes = try spec.run(module)
        #expect(outcomes.count == 5)
        for outcome in outcomes { #expect(outcome.passed, "\(outcome.name): \(outcome.problems)") }
    }
}
