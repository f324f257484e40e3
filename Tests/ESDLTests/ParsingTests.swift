import ESDL
import Foundation
import Testing

@Suite("Parsing ESDL")
struct ParsingTests {
    @Test("the bank account seed parses to the expected model")
    func bankAccountSeed() throws {
        let schema = try Schema.parse(Fixtures.bankAccount, file: "bank_account.esdl")
        let expected = Schema(
            version: SemanticVersion(major: 0, minor: 1, patch: 0),
            aggregate: Aggregate(
                name: "BankAccount",
                commands: [
                    Command(
                        name: "open_account", parameters: [Field(name: "initial_balance", type: .scalar(.long))],
                        returns: .event("OpenedAccount")),
                    Command(
                        name: "deposit_funds", parameters: [Field(name: "amount", type: .scalar(.int))],
                        returns: .event("DepositedFunds")),
                    Command(
                        name: "withdraw_funds", parameters: [Field(name: "amount", type: .scalar(.int))],
                        returns: .event("WithdrewFunds")),
                ]),
            events: [
                EventDefinition(name: "OpenedAccount", fields: [Field(name: "initial_balance", type: .scalar(.long))]),
                EventDefinition(name: "DepositedFunds", fields: [Field(name: "amount", type: .scalar(.int))]),
                EventDefinition(name: "WithdrewFunds", fields: [Field(name: "amount", type: .scalar(.int))]),
            ],
            types: [])
        #expect(schema == expected)
        #expect(schema.aggregate.category == "bankAccount")
    }

    @Test("the counter seed parses to the expected model")
    func counterSeed() throws {
        let schema = try Schema.parse(Fixtures.counter, file: "counter.esdl")
        #expect(schema.version == SemanticVersion(major: 0, minor: 1, patch: 1))
        #expect(schema.aggregate.name == "Counter")
        #expect(schema.aggregate.commands.map(\.name) == ["increment", "decrement"])
        #expect(schema.command(named: "increment")?.returns.events == ["Incremented"])
        #expect(schema.command(named: "decrement")?.parameters == [Field(name: "amount", type: .scalar(.int))])
        let counted = [Field(name: "amount", type: .scalar(.int)), Field(name: "count", type: .scalar(.long))]
        #expect(
            schema.events == [
                EventDefinition(name: "Incremented", fields: counted), EventDefinition(name: "Decremented", fields: counted),
            ])
    }

    @Test("the todos seed parses to the expected model")
    func todosSeed() throws {
        let schema = try Schema.parse(Fixtures.todos, file: "todos.esdl")
        #expect(schema.aggregate.name == "Todos")
        #expect(
            schema.command(named: "add")?.parameters == [
                Field(name: "id", type: .scalar(.string)), Field(name: "description", type: .scalar(.string)),
            ])
        #expect(schema.command(named: "remove")?.returns.events == ["Removed"])
        #expect(schema.event(named: "Added")?.fields.map(\.name) == ["id", "description"])
        #expect(schema.event(named: "Removed")?.fields == [Field(name: "id", type: .scalar(.string))])
        #expect(schema.types.isEmpty)
    }

    @Test("fields may be separated by commas, new lines or only spaces")
    func fieldSeparators() throws {
        let schema = try Schema.parse(
            """
            version = "1.0.0"
            aggregate Counter { increment(amount: Int,) -> Incremented }
            event Incremented { amount: Int  count: Long }
            type A { x: Int, y: Int, }
            type B {
              x: Int
              y: Int
            }
            """)
        #expect(schema.event(named: "Incremented")?.fields.map(\.name) == ["amount", "count"])
        #expect(schema.type(named: "A")?.fields == schema.type(named: "B")?.fields)
        #expect(schema.command(named: "increment")?.parameters.count == 1)
    }

    @Test("line and block comments are ignored anywhere between tokens")
    func comments() throws {
        let schema = try Schema.parse(
            """
            // leading comment
            version /* inline */ = "0.1.0" // trailing
            /* a block
               over lines */
            aggregate A { go(/* nothing */) -> Went /* after */ }
            event Went { /* empty */ }
            """)
        #expect(schema.aggregate.commands.first?.parameters == [])
        #expect(schema.event(named: "Went")?.fields == [])
    }

    @Test("every type form parses to the matching reference")
    func typeForms() throws {
        let schema = try Schema.parse(
            """
            version = "0.1.0"
            aggregate A { go(
              s: String, i: Int, l: Long, f: Float, d: Double, b: Bool, y: Bytes,
              o: Int?, a: [Int], ao: [String?]?, aa: [[Long]], c: Point, co: Point?, ca: [Point?]?
            ) -> Went }
            event Went {}
            type Point { x: Double, y: Double }
            """)
        let types = try #require(schema.command(named: "go")).parameters.map(\.type)
        #expect(
            types == [
                .scalar(.string), .scalar(.int), .scalar(.long), .scalar(.float), .scalar(.double), .scalar(.bool),
                .scalar(.bytes), .optional(.scalar(.int)), .array(.scalar(.int)),
                .optional(.array(.optional(.scalar(.string)))), .array(.array(.scalar(.long))), .custom("Point"),
                .optional(.custom("Point")), .optional(.array(.optional(.custom("Point")))),
            ])
        #expect(
            types.map(\.description) == [
                "String", "Int", "Long", "Float", "Double", "Bool", "Bytes", "Int?", "[Int]", "[String?]?", "[[Long]]",
                "Point", "Point?", "[Point?]?",
            ])
    }

    @Test(
        "a command returns one event, an optional event, or a tuple of events",
        arguments: [
            ("A", .event("A")),
            ("A?", .optionalEvent("A")),
            ("(A | B)", tuple(("A", false), ("B", false))),
            ("(A | B?)", tuple(("A", false), ("B", true))),
            ("(A? | B)", tuple(("A", true), ("B", false))),
            ("(A? | B?)", tuple(("A", true), ("B", true))),
            ("(A | B)?", tuple(("A", false), ("B", false), optional: true)),
            ("(A)", tuple(("A", false))),
        ])
    func returns(written: String, expected: CommandReturn) throws {
        let schema = try Schema.parse(
            """
            version = "0.1.0"
            aggregate X { go() -> \(written) }
            event A {}
            event B {}
            """)
        #expect(schema.command(named: "go")?.returns == expected)
    }

    @Test("names that are keywords elsewhere are ordinary field names")
    func keywordFieldNames() throws {
        let schema = try Schema.parse(
            """
            version = "0.1.0"
            aggregate X { go(type: String, event: Int, version: Long, aggregate: Bool, default: Bool) -> E }
            event E {
              type: String
              class: String
              self: Int
            }
            """)
        #expect(schema.command(named: "go")?.parameters.map(\.name) == ["type", "event", "version", "aggregate", "default"])
        #expect(schema.event(named: "E")?.fields.map(\.name) == ["type", "class", "self"])
    }

    @Test("Windows line endings, tabs and a byte order mark are accepted")
    func whitespaceVariants() throws {
        let text = "\u{FEFF}version = \"0.1.0\"\r\n\taggregate X {\r\n\t\tgo() -> E\r\n}\r\nevent E {}\r\n"
        let schema = try Schema.parse(text)
        #expect(schema.aggregate.name == "X")
    }

    @Test("the everything example uses every form and parses")
    func everything() throws {
        let schema = try Fixtures.everythingSchema
        #expect(schema.aggregate.name == "Order")
        #expect(schema.aggregate.commands.count == 6)
        #expect(schema.events.count == 6)
        #expect(schema.types.map(\.name) == ["Address", "Country", "Coordinates", "OrderLine", "LineOption", "Category"])
        let allTypes = Set(
            (schema.aggregate.commands.flatMap(\.parameters) + schema.events.flatMap(\.fields)
                + schema.types.flatMap(\.fields)).map(\.type))
        for scalar in Scalar.allCases { #expect(allTypes.contains(.scalar(scalar))) }
        #expect(allTypes.contains(.optional(.array(.optional(.scalar(.string))))))
        #expect(allTypes.contains(.array(.array(.scalar(.int)))))
        #expect(schema.command(named: "touch")?.returns.mayBeEmpty == true)
        #expect(schema.command(named: "ship")?.returns == tuple(("Shipped", false), ("Rejected", true)))
        #expect(schema.command(named: "configure")?.parameters.map(\.name) == ["default", "class", "self", "protocol", "type"])
        #expect(schema.directlyRecursiveTypes == ["Category"])
    }

    @Test("the everything example on disk is the fixture")
    func everythingOnDisk() throws {
        let url = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Examples/schemas/everything.esdl")
        let onDisk = try String(contentsOf: url, encoding: .utf8)
        #expect(onDisk == Fixtures.everything)
    }

    @Test("types that refer to themselves through optionals need boxing, through arrays they do not")
    func directRecursion() throws {
        let schema = try Schema.parse(
            """
            version = "0.1.0"
            aggregate X { go(n: Node) -> E }
            event E {}
            type Node { next: Node? }
            type Tree { children: [Tree] }
            type Ping { pong: Pong? }
            type Pong { ping: Ping }
            type Leaf { value: Int }
            """)
        #expect(schema.directlyRecursiveTypes == ["Node", "Ping", "Pong"])
    }

    @Test("a lone type is read from its ESDL text")
    func typeReferenceText() {
        #expect(TypeReference("[String?]?") == .optional(.array(.optional(.scalar(.string)))))
        #expect(TypeReference("Address") == .custom("Address"))
        #expect(TypeReference("Int??") == nil)
        #expect(TypeReference("[Int") == nil)
        #expect(TypeReference("Int Int") == nil)
        #expect(TypeReference("caf\u{E9}") == nil)
        #expect(TypeReference("") == nil)
        #expect(TypeReference("[[Int]?]").map(\.base) == .scalar(.int))
    }

    @Test("warnings do not stop parsing and are visible through analyze")
    func warnings() throws {
        let text = """
            version = "0.1.0"
            aggregate Empty {}
            """
        let schema = try Schema.parse(text)
        #expect(schema.aggregate.commands.isEmpty)
        let analysis = Schema.analyze(text, file: "empty.esdl")
        #expect(analysis.schema == schema)
        #expect(analysis.diagnostics.map(\.code) == [.emptyAggregate])
        #expect(analysis.diagnostics.first?.severity == .warning)
    }
}

/// The return `(A | B?)` written as `tuple(("A", false), ("B", true))`.
func tuple(_ elements: (String, Bool)..., optional: Bool = false) -> CommandReturn {
    CommandReturn(elements: elements.map { CommandReturn.Element(event: $0.0, isOptional: $0.1) }, isTuple: true, tupleIsOptional: optional)
}
