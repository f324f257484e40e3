import ESDL
import Testing

private func schema(_ body: String) throws -> Schema {
    try Schema.parse("version = \"0.1.0\"\naggregate A { go() -> E }\nevent E { x: Int }\n" + body)
}

private let before = """
    event Placed { id: String, quantity: Int, weight: Float, note: String?, tags: [Int], address: Address }
    event Cancelled { reason: String }
    type Address { street: String, zip: String? }
    """

@Suite("Schema compatibility with stored events")
struct CompatibilityTests {
    @Test(
        "changes that stored events survive pass",
        arguments: [
            // the same schema
            before,
            // a new optional field; an optional field removed; widened types; T → T?
            """
            event Placed { id: String?, quantity: Long, weight: Double, tags: [Double], address: Address, gift: Bool? }
            event Cancelled { reason: String }
            type Address { street: String, zip: String?, city: String? }
            """,
            // an event type that is not in the store may go
            """
            event Placed { id: String, quantity: Int, weight: Float, note: String?, tags: [Int], address: Address }
            type Address { street: String, zip: String? }
            """,
        ])
    func compatible(after: String) throws {
        let problems = try schema(after).compatibilityProblems(replacing: try schema(before), storedEvents: ["Placed", "E"])
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test(
        "changes that break stored events are listed, each with its path",
        arguments: [
            (
                "event Cancelled { reason: String } type Address { street: String }",
                "event Placed is in the store but the new schema does not define it"
            ),
            (
                "event Placed { id: String, quantity: Int, weight: Float, tags: [Int], address: Address, note: String?, extra: Int } type Address { street: String, zip: String? }",
                "Placed.extra (Int) is new and required; stored events do not have it (make it optional)"
            ),
            (
                "event Placed { quantity: Int, weight: Float, note: String?, tags: [Int], address: Address } type Address { street: String, zip: String? }",
                "Placed.id (String) is required and was removed; stored events have it"
            ),
            (
                "event Placed { id: Int, quantity: Int, weight: Float, note: String?, tags: [Int], address: Address } type Address { street: String, zip: String? }",
                "Placed.id changed from String to Int; stored values may not fit"
            ),
            (
                "event Placed { id: String, quantity: Int, weight: Float, note: String, tags: [Int], address: Address } type Address { street: String, zip: String? }",
                "Placed.note changed from String? to String; stored values may be null"
            ),
            (
                "event Placed { id: String, quantity: Int, weight: Float, note: String?, tags: [String], address: Address } type Address { street: String, zip: String? }",
                "Placed.tags[] changed from Int to String; stored values may not fit"
            ),
            (
                "event Placed { id: String, quantity: Int, weight: Float, note: String?, tags: [Int], address: Address } type Address { zip: String? }",
                "Placed.address.street (String) is required and was removed; stored events have it"
            ),
        ])
    func incompatible(after: String, expected: String) throws {
        let problems = try schema(after).compatibilityProblems(replacing: try schema(before), storedEvents: ["Placed", "E"])
        #expect(problems == [expected])
    }

    @Test("recursive types are compared once")
    func recursive() throws {
        let old = try schema("event P { node: Node }\ntype Node { name: String, next: Node? }")
        let new = try schema("event P { node: Node }\ntype Node { name: Int, next: Node? }")
        #expect(
            new.compatibilityProblems(replacing: old, storedEvents: ["P"]) == [
                "P.node.name changed from String to Int; stored values may not fit"
            ])
    }
}
