import ESDL
import JSON
import Testing

/// A schema with one command `go(v: <type>)` and an event `E { v: <type> }`.
private func schema(for type: String) throws -> Schema {
    try Schema.parse(
        """
        version = "0.1.0"
        aggregate A { go(v: \(type)) -> E }
        event E { v: \(type) }
        type Point { x: Int, y: Int }
        """)
}

private let shop = """
    version = "0.1.0"
    aggregate Shop {
      place(name: String, items: [Item], address: Address?, tags: [String?]?) -> Placed
      cancel(reason: String?) -> Cancelled?
      ship() -> (Shipped | Rejected?)
      decide() -> (Shipped | Rejected)
      choose() -> (Shipped? | Rejected?)
      maybe() -> (Shipped | Rejected)?
    }
    event Placed { name: String, items: [Item] }
    event Cancelled {}
    event Shipped { at: Long }
    event Rejected { reason: String }
    type Item { sku: String, price: Int, options: [Option]? }
    type Option { name: String, value: String? }
    type Address { street: String, next: Address? }
    """

@Suite("Payload validation")
struct PayloadValidationTests {
    @Test(
        "values are accepted or rejected by type, with a path and a message",
        arguments: [
            ("String", "\"x\"", nil),
            ("String", "1", "v: expected String, found 1"),
            ("String", "null", "v: expected String, found null"),
            ("Int", "42", nil),
            ("Int", "-2147483648", nil),
            ("Int", "2147483647", nil),
            ("Int", "2147483648", "v: expected Int (32-bit), found 2147483648 which is out of range"),
            ("Int", "3000000000", "v: expected Int (32-bit), found 3000000000 which is out of range"),
            ("Int", "-2147483649", "v: expected Int (32-bit), found -2147483649 which is out of range"),
            ("Int", "3.0", nil),
            ("Int", "1e2", nil),
            ("Int", "1.5", "v: expected Int, found 1.5"),
            ("Int", "1e10", "v: expected Int (32-bit), found 10000000000.0 which is out of range"),
            ("Int", "\"abc\"", #"v: expected Int, found "abc""#),
            ("Int", "true", "v: expected Int, found true"),
            ("Int", "[1]", "v: expected Int, found an array"),
            ("Int", "{}", "v: expected Int, found an object"),
            ("Long", "9223372036854775807", nil),
            ("Long", "-9223372036854775808", nil),
            ("Long", "9007199254740992.0", nil),
            ("Long", "1e19", "v: expected Long (64-bit), found 1e+19 which is out of range"),
            ("Long", "0.5", "v: expected Long, found 0.5"),
            ("Float", "1", nil),
            ("Float", "-1.5e300", nil),
            ("Float", "\"1\"", #"v: expected Float, found "1""#),
            ("Double", "0.1", nil),
            ("Double", "12", nil),
            ("Double", "false", "v: expected Double, found false"),
            ("Bool", "true", nil),
            ("Bool", "\"true\"", #"v: expected Bool, found "true""#),
            ("Bool", "0", "v: expected Bool, found 0"),
            ("Bytes", "\"\"", nil),
            ("Bytes", "\"aGVsbG8=\"", nil),
            ("Bytes", "\"aGVsbA==\"", nil),
            ("Bytes", "\"aGk+Lw==\"", nil),
            ("Bytes", "\"aGVsbG8\"", #"v: expected Bytes (base64), found "aGVsbG8" which is not valid base64"#),
            ("Bytes", "\"ab=c\"", #"v: expected Bytes (base64), found "ab=c" which is not valid base64"#),
            ("Bytes", "\"a===\"", #"v: expected Bytes (base64), found "a===" which is not valid base64"#),
            ("Bytes", "\"aGk-Lw==\"", #"v: expected Bytes (base64), found "aGk-Lw==" which is not valid base64"#),
            ("Bytes", "3", "v: expected Bytes, found 3"),
            ("Int?", "null", nil),
            ("Int?", "7", nil),
            ("Int?", "\"x\"", #"v: expected Int, found "x""#),
            ("[Int]", "[]", nil),
            ("[Int]", "[1, 2]", nil),
            ("[Int]", "[1, \"x\", 3, null]", #"v[1]: expected Int, found "x"; v[3]: expected Int, found null"#),
            ("[Int]", "\"x\"", #"v: expected [Int], found "x""#),
            ("[Int]", "null", "v: expected [Int], found null"),
            ("[String?]?", "null", nil),
            ("[String?]?", "[null, \"a\"]", nil),
            ("[String?]?", "[1]", "v[0]: expected String, found 1"),
            ("[[Int]]", "[[1], [2, \"x\"]]", #"v[1][1]: expected Int, found "x""#),
            ("Point", "{\"x\": 1, \"y\": 2}", nil),
            ("Point", "{\"x\": 1}", "v.y: missing required field"),
            ("Point", "3", "v: expected Point (an object), found 3"),
            ("[Point?]", "[{\"x\": 1, \"y\": 2}, null, {\"x\": 1, \"y\": 2, \"z\": 3}]", "v[2].z: unknown field; expected one of x or y"),
        ] as [(String, String, String?)])
    func typeForms(type: String, json: String, expected: String?) throws {
        let schema = try schema(for: type)
        let payload = try JSONValue(parsing: "{\"v\": \(json)}")
        let errors = schema.validateCommand("go", payload: payload)
        #expect(errors.map(\.description).joined(separator: "; ") == (expected ?? ""))
        #expect(schema.isValidCommand("go", payload: payload) == (expected == nil))
        #expect(schema.validateEvent("E", payload: payload) == errors)
        #expect(schema.isValidEvent("E", payload: payload) == (expected == nil))
    }

    @Test("an optional field may be absent; a required one may not")
    func presence() throws {
        let optional = try schema(for: "Int?")
        #expect(optional.validateCommand("go", payload: [:]).isEmpty)
        let required = try schema(for: "Int")
        #expect(required.validateCommand("go", payload: [:]).map(\.description) == ["v: missing required field"])
    }

    @Test("the messages of the bank account read as documented")
    func bankAccountMessages() throws {
        let bank = try Fixtures.bankAccountSchema
        #expect(
            bank.validateCommand("open_account", payload: [:]).map(\.description) == [
                "initial_balance: missing required field"
            ])
        #expect(
            bank.validateCommand("deposit_funds", payload: ["amount": 5, "extra": true]).map(\.description) == [
                "extra: unknown field; expected one of amount"
            ])
        #expect(
            bank.validateCommand("deposit_funds", payload: ["amount": 3_000_000_000]).map(\.description) == [
                "amount: expected Int (32-bit), found 3000000000 which is out of range"
            ])
        #expect(
            bank.validateCommand("deposit_funds", payload: [1]).map(\.description) == [
                "expected an object with the parameters of command 'deposit_funds', found an array"
            ])
        let unknown = bank.validateCommand("deposit", payload: ["amount": 5])
        #expect(
            unknown.map(\.description) == [
                "unknown command 'deposit' for aggregate 'BankAccount'; expected one of open_account, deposit_funds or withdraw_funds"
            ])
        #expect(unknown.first?.code == .unknownCommand)
        #expect(!bank.isValidCommand("deposit", payload: ["amount": 5]))
    }

    @Test("nested custom types and arrays give full paths, and every error is collected")
    func nestedPaths() throws {
        let schema = try Schema.parse(shop)
        let payload = try JSONValue(
            parsing: """
                {
                  "name": 7,
                  "items": [
                    {"sku": "a", "price": 1},
                    {"sku": "b", "price": 2, "options": [{"name": "size", "value": null}, {"value": "x"}]},
                    {"sku": "c", "price": "abc"}
                  ],
                  "address": {"street": "Main", "next": {"street": 1, "next": null}},
                  "tags": ["a", null, 3],
                  "zebra": 1,
                  "apple": 2
                }
                """)
        let errors = schema.validateCommand("place", payload: payload)
        #expect(
            errors.map(\.description) == [
                "name: expected String, found 7",
                "items[1].options[1].name: missing required field",
                #"items[2].price: expected Int, found "abc""#,
                "address.next.street: expected String, found 1",
                "tags[2]: expected String, found 3",
                "apple: unknown field; expected one of name, items, address or tags",
                "zebra: unknown field; expected one of name, items, address or tags",
            ])
        #expect(
            errors.map(\.code) == [
                .typeMismatch, .missingField, .typeMismatch, .typeMismatch, .typeMismatch, .unknownField, .unknownField,
            ])
        #expect(errors[2].path == "items[2].price")
        #expect(errors[2].message == #"expected Int, found "abc""#)
    }

    @Test("an event payload is checked against the event's fields")
    func events() throws {
        let schema = try Schema.parse(shop)
        #expect(schema.validateEvent("Shipped", payload: ["at": 12]).isEmpty)
        #expect(
            schema.validateEvent("Cancelled", payload: ["x": 1]).map(\.description) == [
                "x: unknown field; expected no fields"
            ])
        #expect(
            schema.validateEvent("Shipped", payload: "x").map(\.description) == [
                #"expected an object with the fields of event 'Shipped', found "x""#
            ])
        let unknown = schema.validateEvent("Sent", payload: [:])
        #expect(
            unknown.map(\.description) == [
                "unknown event 'Sent'; expected one of Placed, Cancelled, Shipped or Rejected"
            ])
        #expect(unknown.first?.code == .unknownEvent)
        #expect(!schema.isValidEvent("Sent", payload: [:]))
    }

    @Test(
        "returned events are checked against the command's declaration",
        arguments: [
            ("place", [], "command 'place' must return 'Placed' (it returns Placed), but did not"),
            ("place", ["Placed"], ""),
            (
                "place", ["Placed", "Placed"],
                "events[1]: command 'place' returned 'Placed' more than once; it returns Placed, in that order, each at most once"
            ),
            (
                "place", ["Shipped"],
                "events[0]: command 'place' does not return 'Shipped'; it returns Placed; command 'place' must return 'Placed' (it returns Placed), but did not"
            ),
            ("cancel", [], ""),
            ("cancel", ["Cancelled"], ""),
            ("ship", [], "command 'ship' must return 'Shipped' (it returns (Shipped | Rejected?)), but did not"),
            ("ship", ["Shipped"], ""),
            ("ship", ["Shipped", "Rejected"], ""),
            ("ship", ["Rejected"], "command 'ship' must return 'Shipped' (it returns (Shipped | Rejected?)), but did not"),
            (
                "ship", ["Rejected", "Shipped"],
                "command 'ship' must return 'Shipped' (it returns (Shipped | Rejected?)), but did not; events[1]: command 'ship' returned 'Shipped' out of order; it returns (Shipped | Rejected?), in that order, each at most once"
            ),
            ("ship", ["Shipped", "Placed"], "events[1]: command 'ship' does not return 'Placed'; it returns (Shipped | Rejected?)"),
            (
                "decide", [],
                "command 'decide' must return 'Shipped' (it returns (Shipped | Rejected)), but did not; command 'decide' must return 'Rejected' (it returns (Shipped | Rejected)), but did not"
            ),
            ("decide", ["Shipped", "Rejected"], ""),
            ("choose", [], ""),
            ("choose", ["Rejected"], ""),
            ("choose", ["Shipped", "Rejected"], ""),
            (
                "choose", ["Shipped", "Shipped"],
                "events[1]: command 'choose' returned 'Shipped' more than once; it returns (Shipped? | Rejected?), in that order, each at most once"
            ),
            ("maybe", [], ""),
            ("maybe", ["Shipped", "Rejected"], ""),
            ("maybe", ["Rejected"], "command 'maybe' must return 'Shipped' (it returns (Shipped | Rejected)?), but did not"),
            ("nope", [], "unknown command 'nope' for aggregate 'Shop'; expected one of place, cancel, ship, decide, choose or maybe"),
        ] as [(String, [String], String)])
    func returnedEvents(command: String, events: [String], expected: String) throws {
        let schema = try Schema.parse(shop)
        let errors = schema.validateReturnedEvents(command: command, events: events)
        #expect(errors.map(\.description).joined(separator: "; ") == expected)
    }

    @Test("returned events with payloads are checked for types and payloads")
    func returnedEventsWithPayloads() throws {
        let schema = try Schema.parse(shop)
        let ok: [(type: String, payload: JSONValue)] = [(type: "Shipped", payload: ["at": 1])]
        #expect(schema.validateReturnedEvents(command: "ship", events: ok).isEmpty)
        let bad: [(type: String, payload: JSONValue)] = [(type: "Shipped", payload: ["at": 1]), (type: "Rejected", payload: ["reason": 5])]
        #expect(
            schema.validateReturnedEvents(command: "ship", events: bad).map(\.description) == [
                "events[1].reason: expected String, found 5"
            ])
        let wrong: [(type: String, payload: JSONValue)] = [(type: "Shipped", payload: ["at": 1]), (type: "Placed", payload: ["oops": 5])]
        #expect(schema.validateReturnedEvents(command: "ship", events: wrong).map(\.code) == [.unexpectedEvent])
        let reversed: [(type: String, payload: JSONValue)] = [
            (type: "Rejected", payload: ["reason": "r"]), (type: "Shipped", payload: ["at": 1]),
        ]
        #expect(schema.validateReturnedEvents(command: "decide", events: reversed).map(\.code) == [.missingEvent, .eventOrder])
    }

    @Test("a payload nested deeper than the limit is rejected without exhausting the stack")
    func deepPayload() throws {
        let schema = try Schema.parse(shop)
        var address: JSONValue = ["street": "end"]
        for _ in 0..<2_000 { address = ["street": "s", "next": address] }
        let payload: JSONValue = ["name": "n", "items": [], "address": address]
        #expect(!schema.isValidCommand("place", payload: payload))
        let errors = schema.validateCommand("place", payload: payload)
        #expect(errors.map(\.code) == [.tooDeep])
        #expect(errors.first?.path.hasPrefix("address.next.next.") == true)
    }

    @Test("the fast check and the full validation always agree on random payloads")
    func fastPathAgrees() throws {
        let schema = try Schema.parse(shop)
        var generator = SeededGenerator(seed: 42)
        let scalars: [JSONValue] = [
            .null, true, 0, -1, 2_147_483_648, 1.5, 2.0, "", "a", "aGk=", [], [:], ["sku": "s", "price": 1],
        ]
        func randomValue(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0..<10, using: &generator) {
            case 0 where depth < 4:
                return .array((0..<Int.random(in: 0...3, using: &generator)).map { _ in randomValue(depth + 1) })
            case 1 where depth < 4:
                var members: [String: JSONValue] = [:]
                for key in ["sku", "price", "options", "name", "value", "street", "next"]
                where Bool.random(using: &generator) {
                    members[key] = randomValue(depth + 1)
                }
                return .object(members)
            default:
                return scalars.randomElement(using: &generator)!
            }
        }
        var valid = 0
        for _ in 0..<3_000 {
            var members: [String: JSONValue] = ["name": "n", "items": []]
            for key in ["name", "items", "address", "tags", "extra"] where Int.random(in: 0..<3, using: &generator) == 0 {
                members[key] = Bool.random(using: &generator) ? nil : randomValue(0)
            }
            let payload = JSONValue.object(members)
            let errors = schema.validateCommand("place", payload: payload)
            #expect(schema.isValidCommand("place", payload: payload) == errors.isEmpty, "\(payload)")
            if errors.isEmpty { valid += 1 }
        }
        // Both outcomes must be exercised for the property to mean anything.
        #expect(valid > 100 && valid < 2_900)
    }
}
