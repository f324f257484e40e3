import ESDL
import Testing

/// The reserved names as the tests expect them, kept apart from the validator's own table
/// so that adding or dropping a name is a visible change here too: each group's names,
/// the kinds of definition they are refused for, and the reason the message gives.
private struct ExpectedGroup: Sendable {
    var kinds: Set<Schema.DefinitionKind>
    var names: [String]
    var reason: @Sendable (String) -> String
}

private let all: Set<Schema.DefinitionKind> = [.aggregate, .event, .type]

private let expectedGroups: [ExpectedGroup] = [
    ExpectedGroup(
        kinds: all,
        names: """
            Any Self _ any as associatedtype async await break case catch class continue default defer deinit do each \
            else enum extension fallthrough false fileprivate for func guard if import in init inout internal is let nil \
            operator precedencegroup private protocol public repeat rethrows return self sending some static struct \
            subscript super switch throw throws true try typealias var where while
            """.split(separator: " ").map(String.init),
        reason: { _ in "it is a Swift keyword" }),
    ExpectedGroup(kinds: [.type], names: ["borrowing", "consuming", "isolated"], reason: { _ in "it is a Swift keyword" }),
    ExpectedGroup(kinds: [.aggregate, .event], names: ["nonisolated"], reason: { _ in "it is a Swift keyword" }),
    ExpectedGroup(
        kinds: all,
        names: [
            "AggregateError", "AggregateModule", "Base64", "BigInteger", "Context", "EntityTable", "Event", "EventList",
            "Exports", "Indirect", "JSONCodable", "JSONError", "JSONReader", "JSONValue", "JSONWriter", "Metadata",
            "ResultBuffers", "Text",
        ],
        reason: { "the guest SDK declares a type named '\($0)'" }),
    ExpectedGroup(
        kinds: all,
        names: [
            "accumulate", "address", "appendUTF8", "bytesEqual", "compareDecimal", "context", "decodeCommandPayload",
            "decodeEventPayload", "estimate", "eventList", "exactParts", "hexDigit", "isDigit", "makeString", "memcmp",
            "resultArea", "scale", "string", "text", "thalo_arena_reset", "thalo_free", "thalo_malloc", "thalo_realloc",
            "utf8Equal", "utf8SequenceLength", "withUTF8", "write",
        ],
        reason: { "the guest SDK declares a function named '\($0)'" }),
    ExpectedGroup(
        kinds: all, names: ["exactPowersOfTen", "keptBufferLimit", "results"],
        reason: { "the guest SDK declares a variable named '\($0)'" }),
    ExpectedGroup(
        kinds: all,
        names: [
            "thaloABIVersion", "thaloApply", "thaloDropEntity", "thaloHandle", "thaloNewEntity", "thaloPostApply",
            "thaloPostHandle", "thaloPostRestore", "thaloPostSnapshot", "thaloPostState", "thaloRestore", "thaloSnapshot", "thaloState",
        ],
        reason: { "generated guest code exports a function named '\($0)'" }),
    ExpectedGroup(
        kinds: all,
        names: [
            "Array", "Equatable", "Error", "ExpressibleByArrayLiteral", "ExpressibleByBooleanLiteral",
            "ExpressibleByDictionaryLiteral", "ExpressibleByFloatLiteral", "ExpressibleByIntegerLiteral",
            "ExpressibleByNilLiteral", "ExpressibleByStringLiteral", "Int32", "Int64", "Result", "StaticString", "UInt",
            "UInt32", "UInt64", "UInt8", "UTF8", "UnsafeBufferPointer", "UnsafeMutablePointer", "UnsafeMutableRawPointer",
            "UnsafePointer", "UnsafeRawBufferPointer", "UnsafeRawPointer",
        ],
        reason: { "the guest SDK and generated guest code use the Swift type '\($0)'" }),
    ExpectedGroup(
        kinds: all, names: ["fatalError", "max", "min", "repeatElement"],
        reason: { "the guest SDK calls the Swift function '\($0)'" }),
    ExpectedGroup(
        kinds: [.event], names: ["Entity"],
        reason: { _ in "the associated type 'Entity' of the module type in generated guest code would hide the definition" }),
    ExpectedGroup(
        kinds: [.event], names: ["entity", "makeEntity"],
        reason: { _ in "a member or parameter of the module type in generated guest code would hide the definition" }),
    ExpectedGroup(
        kinds: [.aggregate, .event], names: ["apply", "handle", "state", "entities"],
        reason: { _ in "a member of the module type and of the aggregate protocol in generated guest code would hide the definition" }),
    ExpectedGroup(
        kinds: [.event, .type], names: ["decode", "encode", "eventType", "payload", "reader"],
        reason: { _ in "a member or parameter of every generated record in generated guest code would hide the definition" }),
    ExpectedGroup(
        kinds: [.type], names: ["name"],
        reason: { _ in "the parameter 'name' of the command decoder in generated guest code would hide the definition" }),
    ExpectedGroup(
        kinds: [.aggregate], names: ["id"],
        reason: { _ in "the parameter 'id' of 'makeEntity(id:)' in generated guest code would hide the definition" }),
    ExpectedGroup(
        kinds: [.event, .type],
        names: ["Codable", "CodingKey", "Data", "Decoder", "Encoder", "Hashable", "JSONDecoder", "JSONEncoder", "Sendable", "Set"],
        reason: { "generated host code uses the Swift or Foundation type '\($0)'" }),
    ExpectedGroup(
        kinds: [.type], names: ["CodingKeys"],
        reason: { _ in "the nested 'CodingKeys' of every record in generated host code would hide the definition" }),
    ExpectedGroup(
        kinds: [.event], names: ["data", "decoder", "eventTypes", "jsonData", "type", "typeName"],
        reason: { _ in "a member, parameter or local of the event enum in generated host code would hide the definition" }),
]

/// `name` given to a definition of `kind` in an otherwise valid file, and where the name is.
private func source(naming kind: Schema.DefinitionKind, _ name: String) -> (text: String, position: String) {
    switch kind {
    case .aggregate:
        ("version = \"0.1.0\"\naggregate \(name) { go() -> Went }\nevent Went {}\n", "2:11")
    case .event:
        ("version = \"0.1.0\"\naggregate Shop { go() -> Went }\nevent Went {}\nevent \(name) {}\n", "4:7")
    case .type:
        ("version = \"0.1.0\"\naggregate Shop { go(x: \(name)) -> Went }\nevent Went {}\ntype \(name) {}\n", "4:6")
    }
}

private func diagnostics(_ text: String) -> [String] {
    Schema.analyze(text, file: "test.esdl").diagnostics.map(\.description)
}

private struct Case: Sendable, CustomTestStringConvertible {
    var name: String
    var kind: Schema.DefinitionKind
    var expected: String?
    var testDescription: String { "\(kind) \(name)" }
}

private let cases: [Case] = expectedGroups.flatMap { group in
    group.names.flatMap { name in
        Schema.DefinitionKind.allCases.map { kind in
            let (_, position) = source(naming: kind, name)
            let expected =
                group.kinds.contains(kind)
                ? "test.esdl:\(position): error: '\(name)' is reserved for generated Swift code: \(group.reason(name)); expected another name for the \(kind.rawValue)"
                : nil
            return Case(name: name, kind: kind, expected: expected)
        }
    }
}

@Suite("Reserved names: definitions may not break the generated Swift code")
struct ReservedNamesTests {
    @Test("each reserved name is refused, with its reason and position, for exactly the kinds it breaks", arguments: cases)
    private func reservedName(_ item: Case) {
        let (text, _) = source(naming: item.kind, item.name)
        if let expected = item.expected {
            #expect(diagnostics(text) == [expected])
            #expect(Schema.analyze(text, file: "test.esdl").diagnostics.map(\.code) == [.reservedName])
        } else {
            #expect(diagnostics(text) == [], "'\(item.name)' compiles as the \(item.kind.rawValue), so it is not reserved for it")
        }
    }

    @Test("the reserved names are exactly the expected list")
    func list() {
        let expected = expectedGroups.flatMap(\.names)
        #expect(expected.count == Set(expected).count, "a name is listed twice")
        #expect(Schema.reservedNames == Set(expected))
    }

    @Test("names derived from the aggregate are reserved for events and types")
    func derivedNames() {
        let header = "version = \"0.1.0\"\naggregate BankAccount { go() -> Went }\nevent Went {}\n"
        #expect(
            Schema.derivedNames(ofAggregate: "BankAccount") == [
                "BankAccountAggregate", "BankAccountCommand", "BankAccountModule", "BankAccountEvent",
            ])
        #expect(
            diagnostics(
                header + "event BankAccountCommand {}\ntype BankAccountModule {}\nevent BankAccountAggregate {}\ntype BankAccountEvent {}")
                == [
                    "test.esdl:4:7: error: 'BankAccountCommand' is reserved for generated Swift code: generated code declares it as the command enum of aggregate 'BankAccount' in guest code; expected another name for the event",
                    "test.esdl:5:6: error: 'BankAccountModule' is reserved for generated Swift code: generated code declares it as the module type of aggregate 'BankAccount' in guest code; expected another name for the type",
                    "test.esdl:6:7: error: 'BankAccountAggregate' is reserved for generated Swift code: generated code declares it as the protocol that aggregate 'BankAccount' implements in guest code; expected another name for the event",
                    "test.esdl:7:6: error: 'BankAccountEvent' is reserved for generated Swift code: generated code declares it as the event enum of aggregate 'BankAccount' in host code; expected another name for the type",
                ])
        // Another aggregate's derived names are free.
        #expect(diagnostics(header + "event CounterCommand {}\ntype BankAccountCommands {}") == [])
    }

    @Test("an aggregate whose derived names are reserved is refused")
    func aggregateWithReservedDerivedName() throws {
        let text = "version = \"0.1.0\"\naggregate Aggregate { go() -> Went }\nevent Went {}\n"
        #expect(
            diagnostics(text) == [
                "test.esdl:2:11: error: 'Aggregate' is reserved for generated Swift code: the generated 'AggregateModule' would clash, as the guest SDK declares a type named 'AggregateModule'; expected another name for the aggregate"
            ])
        let error = #expect(throws: ESDLError.self) { try Schema.parse(text, file: "test.esdl") }
        #expect(error?.diagnostics.map(\.code) == [.reservedName])
    }

    @Test("names close to reserved ones are fine")
    func nearMisses() {
        let text = """
            version = "0.1.0"
            aggregate Contexts { go(a: Datum, b: Entity, c: Names) -> Went }
            event Went {}
            event JSONValues {}
            event context2 {}
            event Int16 {}
            event Optional {}
            event Command {}
            event CodingKeys {}
            type Datum {}
            type Entity {}
            type Names {}
            """
        #expect(diagnostics(text) == [])
    }

    @Test("a scalar name is reported once, as a built-in type")
    func scalarsAreReportedOnce() {
        #expect(
            diagnostics("version = \"0.1.0\"\naggregate A { go() -> Went }\nevent Went {}\nevent Bool {}") == [
                "test.esdl:4:7: error: 'Bool' is a built-in type; expected another name for the event"
            ])
    }

    @Test("the reason is available to tools without parsing")
    func reservationAPI() {
        #expect(Schema.reservation(of: "Context", as: .event, aggregate: nil) == "the guest SDK declares a type named 'Context'")
        #expect(Schema.reservation(of: "Data", as: .aggregate, aggregate: nil) == nil)
        #expect(Schema.reservation(of: "Data", as: .type, aggregate: nil) != nil)
        #expect(Schema.reservation(of: "ShopEvent", as: .event, aggregate: "Shop") != nil)
        #expect(Schema.reservation(of: "ShopEvent", as: .aggregate, aggregate: "Shop") == nil)
        #expect(Schema.reservation(of: "ShopEvent", as: .event, aggregate: nil) == nil)
    }
}
