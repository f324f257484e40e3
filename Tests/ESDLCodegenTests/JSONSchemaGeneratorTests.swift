import ESDL
import Foundation
import JSON
import TestSupport
import Testing

@testable import ESDLCodegen

@Suite("JSON Schema export")
struct JSONSchemaGeneratorTests {
    @Test("the document matches the golden files", arguments: ["bank_account", "everything"])
    func matchesGolden(name: String) throws {
        let entry = try #require(Fixtures.goldenSchemas.first { $0.golden == name })
        let document = JSONSchemaGenerator(schema: try Fixtures.schema(entry.esdl)).generate()
        try Fixtures.expectMatchesGolden(document.prettyJSONText + "\n", named: name + ".schema.json.golden")
    }

    @Test("the output is deterministic")
    func deterministic() throws {
        let schema = try Fixtures.schema("schemas/everything.esdl")
        #expect(JSONSchemaGenerator(schema: schema).generate().jsonText == JSONSchemaGenerator(schema: schema).generate().jsonText)
    }

    @Test("the root names the dialect and has a definition per event, type and command")
    func definitions() throws {
        let document = JSONSchemaGenerator(schema: try Fixtures.schema("schemas/everything.esdl")).generate()
        #expect(document["$schema"] == "https://json-schema.org/draft/2020-12/schema")
        #expect(document["title"] == "Order")
        let keys = try #require(document["$defs"]?.objectValue).keys.sorted()
        #expect(
            keys == [
                "command:amend", "command:archive", "command:configure", "command:place", "command:ship", "command:touch",
                "event:Amended", "event:Configured", "event:Placed", "event:Rejected", "event:Shipped", "event:Touched",
                "type:Address", "type:Category", "type:Coordinates", "type:Country", "type:LineOption", "type:OrderLine",
            ])
    }

    @Test("scalars, optionals and arrays map to the documented keywords")
    func keywords() throws {
        let document = JSONSchemaGenerator(schema: try Fixtures.schema("schemas/everything.esdl")).generate()
        let placed = try #require(document["$defs"]?["event:Placed"])
        #expect(placed["type"] == "object")
        #expect(placed["additionalProperties"] == false)
        #expect(placed["required"] == ["customer", "quantity", "total_cents", "weight", "exchange_rate", "gift", "signature"])
        let properties = try #require(placed["properties"])
        #expect(properties["quantity"] == ["type": "integer", "minimum": -2_147_483_648, "maximum": 2_147_483_647])
        #expect(properties["total_cents"] == ["type": "integer", "minimum": .integer(Int64.min), "maximum": .integer(Int64.max)])
        #expect(properties["weight"] == ["type": "number"])
        #expect(properties["gift"] == ["type": "boolean"])
        #expect(properties["signature"]?["contentEncoding"] == "base64")
        #expect(properties["signature"]?["type"] == "string")

        let amended = try #require(document["$defs"]?["event:Amended"])
        #expect(amended["required"] == ["tags", "matrix", "lines"])
        #expect(amended["properties"]?["note"] == ["type": ["string", "null"]])
        #expect(amended["properties"]?["labels"] == ["type": ["array", "null"], "items": ["type": ["string", "null"]]])
        #expect(amended["properties"]?["lines"] == ["type": "array", "items": ["$ref": "#/$defs/type:OrderLine"]])

        let shipped = try #require(document["$defs"]?["event:Shipped"])
        #expect(shipped["properties"]?["address"] == ["$ref": "#/$defs/type:Address"])
        #expect(
            shipped["properties"]?["history"] == [
                "type": ["array", "null"], "items": ["anyOf": [["$ref": "#/$defs/type:Address"], ["type": "null"]]],
            ])
        let touched = try #require(document["$defs"]?["event:Touched"])
        #expect(touched["required"] == nil)
        #expect(touched["properties"] == [:])
    }

    @Test("the base64 pattern accepts what the runtime accepts")
    func base64Pattern() throws {
        let schema = try Fixtures.schema("schemas/everything.esdl")
        let texts = [
            "", "AA==", "AAA=", "AAAA", "AAEC/w==", "+/+/", "A", "AA", "AAA", "A===", "AA=A", "=AAA", "AAAA=", "AA AA", "AA==AAAA",
            "Zm9v\n",
        ]
        let regex = try Regex(JSONSchemaGenerator.base64Pattern)
        for text in texts {
            let runtime = schema.isValidCommand(
                "place",
                payload: [
                    "customer": "c", "quantity": 1, "total_cents": 1, "weight": 1, "exchange_rate": 1, "gift": true,
                    "signature": .string(text),
                ])
            let matches = text.wholeMatch(of: regex) != nil
            #expect(matches == runtime, "\(text.debugDescription): pattern \(matches), runtime \(runtime)")
        }
        #expect(texts.contains { text in text.wholeMatch(of: regex) == nil })
    }

    @Test("Python's jsonschema accepts the document and agrees with the runtime on sample payloads")
    func validatesWithPython() async throws {
        let folder = try Fixtures.temporaryDirectory("jsonschema")
        defer { try? FileManager.default.removeItem(at: folder) }
        let check = try await ProcessRunner.output("python3", ["-c", "import jsonschema"])
        try #require(check.status == 0, "the Python jsonschema package is needed: pip install jsonschema\n\(check.combined)")

        var caseTexts: [String] = []
        var expectations: [(SchemaCase, Bool?)] = []
        for (file, cases) in [
            ("bank_account/bank_account.esdl", SchemaCase.bankAccount), ("schemas/everything.esdl", SchemaCase.everything),
        ] {
            let schema = try Fixtures.schema(file)
            let documentURL = folder.appendingPathComponent(schema.aggregate.name + ".json")
            try JSONSchemaGenerator(schema: schema).generate().jsonText.write(to: documentURL, atomically: true, encoding: .utf8)
            for item in cases {
                // The payload text goes to Python as written, so that `1e2` or
                // 2147483648 reach jsonschema exactly as a client would send them.
                caseTexts.append(
                    #"{"document":"\#(documentURL.path)","ref":"\#(JSONSchemaGenerator.reference(item.kind, item.name))","payload":\#(item.payload)}"#
                )
                let payload = try JSONValue(parsing: item.payload)
                let runtime: Bool? =
                    switch item.kind {
                    case .event: schema.isValidEvent(item.name, payload: payload)
                    case .command: schema.isValidCommand(item.name, payload: payload)
                    case .type: nil
                    }
                expectations.append((item, runtime))
            }
        }
        let casesURL = folder.appendingPathComponent("cases.json")
        try ("[" + caseTexts.joined(separator: ",\n") + "]").write(to: casesURL, atomically: true, encoding: .utf8)
        let script = folder.appendingPathComponent("validate.py")
        try Self.pythonScript.write(to: script, atomically: true, encoding: .utf8)

        let run = try await ProcessRunner.output("python3", [script.path, casesURL.path])
        try #require(run.status == 0, "validate.py failed:\n\(run.combined)")
        let verdicts = try #require(try JSONValue(parsing: run.standardOutput).arrayValue)
        try #require(verdicts.count == expectations.count)
        for ((item, runtime), verdict) in zip(expectations, verdicts) {
            #expect(verdict.boolValue == item.valid, "jsonschema: \(item.kind):\(item.name) \(item.payload) (\(item.label))")
            if let runtime {
                #expect(runtime == item.valid, "runtime: \(item.kind):\(item.name) \(item.payload) (\(item.label))")
            }
        }
        #expect(expectations.contains { !$0.0.valid } && expectations.contains { $0.0.valid })
    }

    /// Checks every document against the 2020-12 meta-schema, then prints whether each
    /// payload is valid against its definition, as a JSON array of booleans.
    static let pythonScript = """
        import json, sys
        from jsonschema import Draft202012Validator

        documents = {}
        verdicts = []
        for case in json.load(open(sys.argv[1])):
            path = case["document"]
            if path not in documents:
                document = json.load(open(path))
                Draft202012Validator.check_schema(document)
                documents[path] = document
            root = dict(documents[path])
            root["$ref"] = case["ref"]
            verdicts.append(Draft202012Validator(root).is_valid(case["payload"]))
        print(json.dumps(verdicts))
        """
}

/// A payload and whether it is valid against one definition.
struct SchemaCase: Sendable {
    var kind: JSONSchemaGenerator.DefinitionKind
    var name: String
    var payload: String
    var valid: Bool
    var label: String

    static func valid(_ kind: JSONSchemaGenerator.DefinitionKind, _ name: String, _ payload: String, _ label: String) -> SchemaCase {
        SchemaCase(kind: kind, name: name, payload: payload, valid: true, label: label)
    }

    static func invalid(_ kind: JSONSchemaGenerator.DefinitionKind, _ name: String, _ payload: String, _ label: String) -> SchemaCase {
        SchemaCase(kind: kind, name: name, payload: payload, valid: false, label: label)
    }

    static let bankAccount: [SchemaCase] = [
        .valid(.event, "OpenedAccount", #"{"initial_balance":9223372036854775807}"#, "largest Long"),
        .valid(.event, "OpenedAccount", #"{"initial_balance":-9223372036854775808}"#, "smallest Long"),
        .valid(.event, "DepositedFunds", #"{"amount":2147483647}"#, "largest Int"),
        .valid(.event, "DepositedFunds", #"{"amount":-2147483648}"#, "smallest Int"),
        .valid(.event, "DepositedFunds", #"{"amount":1e2}"#, "an integer written with an exponent"),
        .valid(.command, "deposit_funds", #"{"amount":5}"#, "a command"),
        .invalid(.event, "OpenedAccount", #"{"initial_balance":9223372036854775808}"#, "Long out of range"),
        .invalid(.event, "OpenedAccount", #"{"initial_balance":1.5}"#, "a fraction for a Long"),
        .invalid(.event, "DepositedFunds", #"{"amount":2147483648}"#, "Int out of range"),
        .invalid(.event, "DepositedFunds", #"{"amount":-2147483649}"#, "Int out of range below"),
        .invalid(.event, "DepositedFunds", #"{"amount":"5"}"#, "a string for an Int"),
        .invalid(.event, "DepositedFunds", #"{"amount":true}"#, "a boolean for an Int"),
        .invalid(.event, "DepositedFunds", #"{"amount":null}"#, "null for a required field"),
        .invalid(.event, "DepositedFunds", #"{}"#, "a missing required field"),
        .invalid(.event, "DepositedFunds", #"{"amount":1,"note":"x"}"#, "an unknown field"),
        .invalid(.event, "DepositedFunds", #"[1]"#, "not an object"),
        .invalid(.command, "withdraw_funds", #"{"amount":1,"initial_balance":2}"#, "another command's field"),
    ]

    static let address = #"{"street":"s","city":"c","country":{"code":"FR","name":"France"}}"#

    static let everything: [SchemaCase] = [
        .valid(
            .event, "Placed",
            #"{"customer":"c","quantity":1,"total_cents":2,"weight":0.5,"exchange_rate":1e-300,"gift":false,"signature":"AAEC/w=="}"#,
            "every scalar"),
        .valid(
            .event, "Placed",
            #"{"customer":"","quantity":0,"total_cents":0,"weight":-1,"exchange_rate":0,"gift":true,"signature":""}"#,
            "empty Bytes"),
        .valid(.event, "Amended", #"{"note":null,"tags":[],"labels":null,"matrix":[[1,2],[]],"lines":[]}"#, "null optionals"),
        .valid(
            .event, "Amended",
            #"{"tags":["a"],"labels":["x",null],"matrix":[],"lines":[{"sku":"s","quantity":1,"price_cents":2,"options":[{"name":"n"}]}]}"#,
            "absent optionals, null in an array, nested types"),
        .valid(.event, "Touched", #"{}"#, "an event without fields"),
        .valid(.event, "Shipped", #"{"address":\#(address),"history":[null,\#(address)]}"#, "optional custom types in an array"),
        .valid(.event, "Configured", #"{"default":true,"class":"c","self":1,"protocol":null,"type":"t"}"#, "keyword field names"),
        .valid(
            .type, "Category", #"{"name":"a","parent":{"name":"b","parent":null,"children":[]},"children":[{"name":"c","children":[]}]}"#,
            "a recursive type"),
        .valid(.command, "ship", #"{"address":\#(address),"tracking":null}"#, "a command with a custom type"),
        .valid(.command, "touch", #"{}"#, "a command without parameters"),
        .invalid(
            .event, "Placed",
            #"{"customer":"c","quantity":1,"total_cents":2,"weight":0.5,"exchange_rate":1,"gift":false,"signature":"AAE"}"#,
            "Bytes that are not base64"),
        .invalid(
            .event, "Placed",
            #"{"customer":"c","quantity":1,"total_cents":2,"weight":0.5,"exchange_rate":1,"gift":false}"#,
            "missing Bytes"),
        .invalid(
            .event, "Placed",
            #"{"customer":"c","quantity":1,"total_cents":2,"weight":"0.5","exchange_rate":1,"gift":false,"signature":""}"#,
            "a string for a Float"),
        .invalid(.event, "Amended", #"{"tags":[1],"matrix":[],"lines":[]}"#, "a wrong array element"),
        .invalid(.event, "Amended", #"{"tags":[],"matrix":[[1.5]],"lines":[]}"#, "a fraction in a nested array"),
        .invalid(.event, "Amended", #"{"tags":[null],"matrix":[],"lines":[]}"#, "null in an array of required elements"),
        .invalid(
            .event, "Amended", #"{"tags":[],"matrix":[],"lines":[{"sku":"s","quantity":1,"price_cents":2,"colour":"red"}]}"#,
            "an unknown field in a nested type"),
        .invalid(.event, "Touched", #"{"x":1}"#, "a field on an event without fields"),
        .invalid(.event, "Shipped", #"{"address":{"street":"s","city":"c","country":{"code":"FR"}}}"#, "a missing field two levels down"),
        .invalid(.event, "Configured", #"{"default":1,"class":"c","self":1,"type":"t"}"#, "a number for a Bool"),
        .invalid(.type, "Category", #"{"name":"a","children":[{"children":[]}]}"#, "a recursive value missing a field"),
        .invalid(.command, "amend", #"{"tags":[],"matrix":[],"lines":[],"labels":[3]}"#, "a wrong optional array element"),
    ]
}
