extension Schema {
    /// The kinds of definition whose names become Swift type names in generated code.
    public enum DefinitionKind: String, Sendable, Hashable, CaseIterable {
        /// `aggregate BankAccount { … }`: the author's type in the guest.
        case aggregate
        /// `event DepositedFunds { … }`: a struct in guest and host code.
        case event
        /// `type Address { … }`: a struct in guest and host code.
        case type
    }

    /// Every name that ``reservation(of:as:aggregate:)`` refuses for at least one kind of
    /// definition, whatever the aggregate is called.
    ///
    /// Scalars (`String`, `Int`, `Long`, `Float`, `Double`, `Bool`, `Bytes`) are refused
    /// separately, as built-in types, and are not listed here.
    public static var reservedNames: Set<String> { Set(ReservedNames.table.keys) }

    /// The type names that generated code derives from the aggregate's name, which no
    /// event or type may have: `BankAccountAggregate` (the protocol the author implements),
    /// `BankAccountCommand` (the command enum) and `BankAccountModule` (the glue to the
    /// exports) in guest code, and `BankAccountEvent` (the event enum) in host code.
    public static func derivedNames(ofAggregate name: String) -> [String] {
        ["Aggregate", "Command", "Module", "Event"].map { name + $0 }
    }

    /// Why `name` cannot name a definition of `kind`, or `nil` when it can.
    ///
    /// A name is reserved when the Swift code generated from a schema (guest code with the
    /// guest SDK, or host code) would not compile with a definition of that name. This
    /// covers Swift keywords, the guest SDK's top-level declarations, the standard library
    /// and Foundation names that the SDK and the generated code use, names of members and
    /// locals of generated code that would hide the definition where the code refers to
    /// it, and ``derivedNames(ofAggregate:)``. Each entry is reserved only for the kinds of
    /// definition it breaks: `Entity` hides events (inside the generated module type) but
    /// not types; `Data` matters to host code, which declares events and types but not the
    /// aggregate.
    ///
    /// ```swift
    /// Schema.reservation(of: "Context", as: .event, aggregate: "BankAccount")
    /// // "the guest SDK declares a type named 'Context'"
    /// Schema.reservation(of: "BankAccountCommand", as: .type, aggregate: "BankAccount")
    /// // "generated guest code declares it as the command enum of aggregate 'BankAccount'"
    /// Schema.reservation(of: "Balance", as: .event, aggregate: "BankAccount") // nil
    /// ```
    ///
    /// - Parameters:
    ///   - name: The definition's name.
    ///   - kind: What the name is given to.
    ///   - aggregate: The name of the file's aggregate, if any, for the derived names.
    /// - Returns: The reason, to complete "'X' is reserved for generated Swift code: …".
    public static func reservation(of name: String, as kind: DefinitionKind, aggregate: String?) -> String? {
        if let entry = ReservedNames.table[name], entry.kinds.contains(kind) {
            return entry.origin.reason(name)
        }
        if kind != .aggregate, let aggregate {
            let derived = derivedNames(ofAggregate: aggregate)
            let roles = [
                "the protocol that aggregate '\(aggregate)' implements in guest code",
                "the command enum of aggregate '\(aggregate)' in guest code",
                "the module type of aggregate '\(aggregate)' in guest code",
                "the event enum of aggregate '\(aggregate)' in host code",
            ]
            if let index = derived.firstIndex(of: name) {
                return "generated code declares it as \(roles[index])"
            }
        }
        return nil
    }
}

/// The reserved names and where each comes from. Found by generating guest and host code
/// for a schema that uses every form, with each candidate as the name of the aggregate, of
/// an event and of a type, and compiling it (guest: Embedded Swift for wasm32 with the
/// SDK; host: Swift 6): every entry breaks the build for the kinds it lists, and every
/// other name tried compiled. The candidates were every identifier of the guest SDK and of
/// the generated code, and Swift's keywords.
///
/// Keep this in step with `Guest/Sources`, `SwiftGuestGenerator` and `SwiftHostGenerator`
/// when they declare or use new top-level names; a test in ESDLCodegenTests checks that
/// every top-level declaration of the SDK is here.
enum ReservedNames {
    enum Origin {
        case keyword
        case sdkType
        case sdkFunction
        case sdkVariable
        case export
        case standardLibraryType
        case standardLibraryFunction
        case guestMember(String)
        case hostType
        case hostMember(String)

        func reason(_ name: String) -> String {
            switch self {
            case .keyword: "it is a Swift keyword"
            case .sdkType: "the guest SDK declares a type named '\(name)'"
            case .sdkFunction: "the guest SDK declares a function named '\(name)'"
            case .sdkVariable: "the guest SDK declares a variable named '\(name)'"
            case .export: "generated guest code exports a function named '\(name)'"
            case .standardLibraryType: "the guest SDK and generated guest code use the Swift type '\(name)'"
            case .standardLibraryFunction: "the guest SDK calls the Swift function '\(name)'"
            case .guestMember(let place): "\(place) in generated guest code would hide the definition"
            case .hostType: "generated host code uses the Swift or Foundation type '\(name)'"
            case .hostMember(let place): "\(place) in generated host code would hide the definition"
            }
        }
    }

    struct Entry {
        var origin: Origin
        var kinds: Set<Schema.DefinitionKind>
    }

    private static let all: Set<Schema.DefinitionKind> = [.aggregate, .event, .type]

    private static let groups: [(origin: Origin, kinds: Set<Schema.DefinitionKind>, names: [String])] = [
        // Swift keywords; the generators write definition names without backticks.
        (
            .keyword, all,
            [
                "Any", "Self", "_", "any", "as", "associatedtype", "async", "await", "break", "case", "catch", "class",
                "continue", "default", "defer", "deinit", "do", "each", "else", "enum", "extension", "fallthrough",
                "false", "fileprivate", "for", "func", "guard", "if", "import", "in", "init", "inout", "internal",
                "is", "let", "nil", "operator", "precedencegroup", "private", "protocol", "public", "repeat",
                "rethrows", "return", "self", "sending", "some", "static", "struct", "subscript", "super", "switch",
                "throw", "throws", "true", "try", "typealias", "var", "where", "while",
            ]
        ),
        // Read as modifiers where a type names a field's type.
        (.keyword, [.type], ["borrowing", "consuming", "isolated"]),
        (.keyword, [.aggregate, .event], ["nonisolated"]),
        // Guest/Sources: compiled in one module with the generated code and the author's.
        (
            .sdkType, all,
            [
                "AggregateError", "AggregateModule", "Base64", "BigInteger", "Context", "EntityTable", "Event",
                "EventList", "Exports", "Indirect", "JSONCodable", "JSONError", "JSONReader", "JSONValue", "JSONWriter",
                "Metadata", "ResultBuffers", "Text",
            ]
        ),
        (
            .sdkFunction, all,
            [
                "accumulate", "address", "appendUTF8", "bytesEqual", "compareDecimal", "context", "decodeCommandPayload",
                "decodeEventPayload", "estimate", "eventList", "exactParts", "hexDigit", "isDigit", "makeString",
                "memcmp", "resultArea", "scale", "string", "text", "thalo_arena_reset", "thalo_free", "thalo_malloc",
                "thalo_realloc", "utf8Equal", "utf8SequenceLength", "withUTF8", "write",
            ]
        ),
        (.sdkVariable, all, ["exactPowersOfTen", "keptBufferLimit", "results"]),
        // SwiftGuestGenerator's exports (@_expose functions).
        (
            .export, all,
            [
                "thaloABIVersion", "thaloApply", "thaloDropEntity", "thaloHandle", "thaloNewEntity", "thaloPostApply",
                "thaloPostHandle", "thaloPostRestore", "thaloPostSnapshot", "thaloPostState", "thaloRestore", "thaloSnapshot",
                "thaloState",
            ]
        ),
        // Standard library names the SDK and the generated guest code refer to; a definition
        // of the same name in the module would be found first. (String, Int, Float, Double
        // and Bool are ESDL scalars, refused as built-in types.)
        (
            .standardLibraryType, all,
            [
                "Array", "Equatable", "Error", "ExpressibleByArrayLiteral", "ExpressibleByBooleanLiteral",
                "ExpressibleByDictionaryLiteral", "ExpressibleByFloatLiteral", "ExpressibleByIntegerLiteral",
                "ExpressibleByNilLiteral", "ExpressibleByStringLiteral", "Int32", "Int64", "Result", "StaticString",
                "UInt", "UInt32", "UInt64", "UInt8", "UTF8", "UnsafeBufferPointer", "UnsafeMutablePointer",
                "UnsafeMutableRawPointer", "UnsafePointer", "UnsafeRawBufferPointer", "UnsafeRawPointer",
            ]
        ),
        (.standardLibraryFunction, all, ["fatalError", "max", "min", "repeatElement"]),
        // Members and parameters of generated guest code, in scopes that refer to events
        // (`<Aggregate>Module.apply` names each event type), to types (every record's
        // `decode`), or to the aggregate (`makeEntity(id:)`).
        (.guestMember("the associated type 'Entity' of the module type"), [.event], ["Entity"]),
        (.guestMember("a member or parameter of the module type"), [.event], ["entity", "makeEntity"]),
        (
            .guestMember("a member of the module type and of the aggregate protocol"), [.aggregate, .event],
            ["apply", "handle", "state", "entities"]
        ),
        (
            .guestMember("a member or parameter of every generated record"), [.event, .type],
            ["decode", "encode", "eventType", "payload", "reader"]
        ),
        (.guestMember("the parameter 'name' of the command decoder"), [.type], ["name"]),
        (.guestMember("the parameter 'id' of 'makeEntity(id:)'"), [.aggregate], ["id"]),
        // SwiftHostGenerator: Foundation and Codable names, and the event enum's members.
        (
            .hostType, [.event, .type],
            ["Codable", "CodingKey", "Data", "Decoder", "Encoder", "Hashable", "JSONDecoder", "JSONEncoder", "Sendable", "Set"]
        ),
        (.hostMember("the nested 'CodingKeys' of every record"), [.type], ["CodingKeys"]),
        (
            .hostMember("a member, parameter or local of the event enum"), [.event],
            ["data", "decoder", "eventTypes", "jsonData", "type", "typeName"]
        ),
    ]

    /// Each reserved name with its origin and kinds.
    static let table: [String: Entry] = {
        var table: [String: Entry] = [:]
        for group in groups {
            for name in group.names {
                precondition(table[name] == nil, "\(name) is listed twice")
                table[name] = Entry(origin: group.origin, kinds: group.kinds)
            }
        }
        return table
    }()
}
