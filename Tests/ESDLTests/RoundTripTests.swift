import ESDL
import Foundation
import JSON
import Testing

@Suite("Canonical text and JSON forms round-trip")
struct RoundTripTests {
    static let sources = Fixtures.seeds.map(\.text) + [Fixtures.everything]

    @Test("parse, print canonical text and parse again gives the same schema", arguments: sources)
    func canonicalRoundTrip(source: String) throws {
        let schema = try Schema.parse(source)
        let canonical = schema.canonicalText
        let reparsed = try Schema.parse(canonical)
        #expect(reparsed == schema)
        #expect(reparsed.canonicalText == canonical)
    }

    @Test("the canonical text of the bank account is normalised ESDL")
    func canonicalBankAccount() throws {
        let messy = """
            /* header */ version="0.1.0"
            aggregate   BankAccount{open_account(initial_balance:Long)->OpenedAccount
            deposit_funds( amount : Int , )->DepositedFunds
                withdraw_funds(amount: Int) -> WithdrewFunds }
            event OpenedAccount { initial_balance: Long }
            event DepositedFunds{amount:Int}
            event WithdrewFunds {
              amount: Int,
            }
            """
        #expect(
            try Schema.parse(messy).canonicalText == """
                version = "0.1.0"

                aggregate BankAccount {
                  open_account(initial_balance: Long) -> OpenedAccount
                  deposit_funds(amount: Int) -> DepositedFunds
                  withdraw_funds(amount: Int) -> WithdrewFunds
                }

                event OpenedAccount {
                  initial_balance: Long
                }

                event DepositedFunds {
                  amount: Int
                }

                event WithdrewFunds {
                  amount: Int
                }

                """)
    }

    @Test("the canonical text writes every return form and empty blocks")
    func canonicalForms() throws {
        let schema = try Schema.parse(
            """
            version = "2.0.0-rc.1"
            aggregate A {
              a() -> E
              b(x: [String?]?) -> E?
              c() -> (E | F)
              d() -> (E? | F)
              e() -> (E | F?)?
              f() -> (E)
            }
            event E {}
            event F { list: [[Int]] }
            type T {}
            """)
        #expect(
            schema.canonicalText == """
                version = "2.0.0-rc.1"

                aggregate A {
                  a() -> E
                  b(x: [String?]?) -> E?
                  c() -> (E | F)
                  d() -> (E? | F)
                  e() -> (E | F?)?
                  f() -> (E)
                }

                event E {}

                event F {
                  list: [[Int]]
                }

                type T {}

                """)
    }

    @Test("JSON text, to a schema and back, is identical", arguments: sources)
    func jsonRoundTrip(source: String) throws {
        let schema = try Schema.parse(source)
        let json = schema.jsonText
        let decoded = try Schema(jsonText: json)
        #expect(decoded == schema)
        #expect(decoded.jsonText == json)
    }

    @Test("the JSON form of the bank account has the documented shape")
    func bankAccountJSON() throws {
        let schema = try Fixtures.bankAccountSchema
        #expect(
            schema.jsonText
                == #"{"aggregate":{"commands":[{"name":"open_account","parameters":[{"name":"initial_balance","type":"Long"}],"returns":{"elements":[{"event":"OpenedAccount","isOptional":false}],"isTuple":false,"tupleIsOptional":false}},{"name":"deposit_funds","parameters":[{"name":"amount","type":"Int"}],"returns":{"elements":[{"event":"DepositedFunds","isOptional":false}],"isTuple":false,"tupleIsOptional":false}},{"name":"withdraw_funds","parameters":[{"name":"amount","type":"Int"}],"returns":{"elements":[{"event":"WithdrewFunds","isOptional":false}],"isTuple":false,"tupleIsOptional":false}}],"name":"BankAccount"},"events":[{"fields":[{"name":"initial_balance","type":"Long"}],"name":"OpenedAccount"},{"fields":[{"name":"amount","type":"Int"}],"name":"DepositedFunds"},{"fields":[{"name":"amount","type":"Int"}],"name":"WithdrewFunds"}],"types":[],"version":"0.1.0"}"#
        )
    }

    @Test("Codable writes the same document as jsonText and reads it back")
    func codableMatchesJSONText() throws {
        let schema = try Fixtures.everythingSchema
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let encoded = try encoder.encode(schema)
        #expect(try JSONValue(parsing: encoded) == schema.jsonValue)
        #expect(String(decoding: encoded, as: UTF8.self) == schema.jsonText)
        #expect(try JSONDecoder().decode(Schema.self, from: Data(schema.jsonText.utf8)) == schema)
    }

    @Test("hundreds of random schemas survive both round trips")
    func randomSchemas() throws {
        var random = RandomSchemas(generator: SeededGenerator(seed: 0xE5D1))
        for iteration in 0..<500 {
            let schema = random.schema()
            let fromText = try #require(Schema.analyze(schema.canonicalText).schema, "iteration \(iteration):\n\(schema.canonicalText)")
            #expect(fromText == schema, "iteration \(iteration)")
            #expect(try Schema(jsonText: schema.jsonText) == schema, "iteration \(iteration)")
        }
    }

    @Test("malformed JSON is rejected with its position")
    func malformedJSON() throws {
        let error = try #require(throws: ESDLError.self) { try Schema(jsonText: "{\n  \"version\": ,\n}") }
        let diagnostic = try #require(error.diagnostics.first)
        #expect(diagnostic.code == .invalidSchemaJSON)
        #expect((diagnostic.location.line, diagnostic.location.column) == (2, 14))
        #expect(diagnostic.message.hasPrefix("invalid schema JSON: "))
    }

    @Test(
        "the position of malformed JSON counts a lone \\r and \\r\\n as one line break each, as the renderer does",
        arguments: [
            ("{\r  \"version\": ,\r}", 2, 14),
            ("{\r\n  \"version\": ,\r\n}", 2, 14),
            ("{\r\r\r\"version\": }", 4, 12),
        ])
    func malformedJSONLineBreaks(text: String, line: Int, column: Int) throws {
        // Found by the schema-json fuzz target: a lone \r did not start a line, so the
        // position (and the caret under the rendered line) pointed at the wrong line.
        let error = try #require(throws: ESDLError.self) { try Schema(jsonText: text) }
        let diagnostic = try #require(error.diagnostics.first)
        #expect((diagnostic.location.line, diagnostic.location.column) == (line, column))
    }

    @Test(
        "a JSON document of the wrong shape names the path of the problem",
        arguments: [
            (#"[]"#, "invalid schema JSON: expected an object, found an array"),
            (#"{"version":"0.1.0","events":[],"types":[]}"#, "invalid schema JSON: aggregate: missing required key"),
            (
                #"{"version":"0.1","aggregate":{"name":"A","commands":[]},"events":[],"types":[]}"#,
                #"invalid schema JSON: version: expected a semantic version such as "0.1.0", found "0.1""#
            ),
            (
                #"{"version":"0.1.0","aggregate":{"name":"A","commands":[{"name":"go","parameters":[{"name":"x","type":"Int??"}],"returns":{"elements":[{"event":"E","isOptional":false}],"isTuple":false,"tupleIsOptional":false}}]},"events":[],"types":[]}"#,
                #"invalid schema JSON: aggregate.commands[0].parameters[0].type: expected an ESDL type such as "Int" or "[String?]?", found "Int??""#
            ),
            (
                #"{"version":"0.1.0","aggregate":{"name":"A","commands":[]},"events":[{"name":"E","fields":[],"extra":1}],"types":[]}"#,
                "invalid schema JSON: events[0].extra: unknown key; expected one of name or fields"
            ),
            (
                #"{"version":"0.1.0","aggregate":{"name":"A","commands":[]},"events":[],"types":[{"name":7,"fields":[]}]}"#,
                "invalid schema JSON: types[0].name: expected a string, found 7"
            ),
        ])
    func wrongShape(json: String, message: String) throws {
        let error = try #require(throws: ESDLError.self) { try Schema(jsonText: json) }
        #expect(error.diagnostics.map(\.message) == [message])
        #expect(error.code == .invalidSchemaJSON)
    }

    @Test("a well-formed JSON schema that breaks the ESDL rules is rejected with ESDL diagnostics")
    func invalidSchemaInJSON() throws {
        let json =
            #"{"version":"0.1.0","aggregate":{"name":"A","commands":[{"name":"go","parameters":[{"name":"x","type":"Nope"}],"returns":{"elements":[{"event":"Missing","isOptional":false}],"isTuple":false,"tupleIsOptional":false}}]},"events":[],"types":[]}"#
        let error = try #require(throws: ESDLError.self) { try Schema(jsonText: json) }
        #expect(error.diagnostics.map(\.code) == [.unknownType, .unknownEvent])
        #expect(error.description.contains("go(x: Nope) -> Missing"))
    }

    @Test("names ESDL cannot express are rejected from JSON")
    func inexpressibleNames() throws {
        let json =
            #"{"version":"0.1.0","aggregate":{"name":"A","commands":[]},"events":[{"name":"E","fields":[{"name":"a b","type":"Int"}]}],"types":[]}"#
        let error = try #require(throws: ESDLError.self) { try Schema(jsonText: json) }
        #expect(!error.diagnostics.isEmpty)
    }
}
