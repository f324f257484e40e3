/// A parsed and validated ESDL file: one aggregate, its events and custom types.
///
/// This is what the registry stores (as ``Schema/jsonText``), what the runtime validates
/// payloads against, and what the code generators read. Definitions keep the order in
/// which they were written.
///
/// ```
/// version = "0.1.0"
///
/// aggregate BankAccount {
///   open_account(initial_balance: Long) -> OpenedAccount
/// }
///
/// event OpenedAccount {
///   initial_balance: Long
/// }
/// ```
public struct Schema: Sendable, Hashable, Codable {
    /// The schema's semantic version (`version = "0.1.0"`).
    public var version: SemanticVersion
    /// The one aggregate the file defines.
    public var aggregate: Aggregate
    /// The events, in the order they were written.
    public var events: [EventDefinition]
    /// The custom record types (`type Address { … }`), in the order they were written.
    public var types: [TypeDefinition]

    /// The longest aggregate name, in characters. Every stream of an entity starts with
    /// it, and Message DB indexes stream names: the rest is left for entity ids.
    public static let maximumAggregateNameLength = 64

    /// Creates a schema from its parts. No validation happens here; parse ESDL with
    /// ``Schema/parse(_:file:)`` or read JSON with ``Schema/init(jsonText:file:)`` to get a
    /// checked schema.
    public init(version: SemanticVersion, aggregate: Aggregate, events: [EventDefinition], types: [TypeDefinition]) {
        self.version = version
        self.aggregate = aggregate
        self.events = events
        self.types = types
    }

    /// The event with this name, if the schema defines it.
    public func event(named name: String) -> EventDefinition? {
        events.first { $0.name == name }
    }

    /// The custom type with this name, if the schema defines it.
    public func type(named name: String) -> TypeDefinition? {
        types.first { $0.name == name }
    }

    /// The command with this name, if the aggregate defines it.
    public func command(named name: String) -> Command? {
        aggregate.commands.first { $0.name == name }
    }
}

/// The aggregate: a consistency boundary and the commands it accepts.
public struct Aggregate: Sendable, Hashable, Codable {
    /// The aggregate's name in UpperCamelCase, e.g. `BankAccount`.
    public var name: String
    /// The commands, in the order they were written.
    public var commands: [Command]

    /// Creates an aggregate.
    public init(name: String, commands: [Command]) {
        self.name = name
        self.commands = commands
    }

    /// The message-store category of this aggregate's streams: the name in
    /// lowerCamelCase (`BankAccount` → `bankAccount`).
    public var category: String {
        guard let first = name.first else { return name }
        return first.lowercased() + name.dropFirst()
    }
}

/// A command: a request to change an entity, with typed parameters.
public struct Command: Sendable, Hashable, Codable {
    /// The command's name as written, e.g. `deposit_funds`.
    public var name: String
    /// The parameters, in the order they were written.
    public var parameters: [Field]
    /// The events the command may produce.
    public var returns: CommandReturn

    /// Creates a command.
    public init(name: String, parameters: [Field], returns: CommandReturn) {
        self.name = name
        self.parameters = parameters
        self.returns = returns
    }
}

/// What a command returns: the events it emits, as written after `->`.
///
/// - `-> E`: exactly one `E`.
/// - `-> E?`: one `E` or no event.
/// - `-> (A | B?)`: a *tuple*: every listed event is emitted, in the order written; a
///   required element (`A`) always, an optional one (`B?`) when the handler chooses. All the
///   events of one command are appended together. A "one of" choice is a tuple of
///   optionals, `(A? | B?)`.
/// - `-> (A | B)?`: the whole tuple or no event at all.
public struct CommandReturn: Sendable, Hashable, Codable {
    /// One event of the return: its name and whether it may be left out.
    public struct Element: Sendable, Hashable, Codable {
        /// The event's name.
        public var event: String
        /// Whether the handler may leave this event out (`E?`).
        public var isOptional: Bool

        /// Creates an element.
        public init(event: String, isOptional: Bool) {
            self.event = event
            self.isOptional = isOptional
        }
    }

    /// The events, in the order they are emitted (and written).
    public var elements: [Element]
    /// Whether the return was written in parentheses, as a tuple.
    public var isTuple: Bool
    /// Whether the whole tuple was marked `?` (`(A | B)?`): no event at all is allowed,
    /// else every required element.
    public var tupleIsOptional: Bool

    /// Creates a return description.
    public init(elements: [Element], isTuple: Bool, tupleIsOptional: Bool = false) {
        self.elements = elements
        self.isTuple = isTuple
        self.tupleIsOptional = tupleIsOptional
    }

    /// The single required event `E`.
    public static func event(_ name: String) -> CommandReturn {
        CommandReturn(elements: [Element(event: name, isOptional: false)], isTuple: false)
    }

    /// The single optional event `E?`.
    public static func optionalEvent(_ name: String) -> CommandReturn {
        CommandReturn(elements: [Element(event: name, isOptional: true)], isTuple: false)
    }

    /// The event names, in order.
    public var events: [String] { elements.map(\.event) }

    /// Whether the command may emit no event at all.
    public var mayBeEmpty: Bool { tupleIsOptional || elements.allSatisfy(\.isOptional) }
}

/// An event definition: a fact the aggregate records.
public struct EventDefinition: Sendable, Hashable, Codable {
    /// The event's name in UpperCamelCase, e.g. `DepositedFunds`.
    public var name: String
    /// The fields, in the order they were written.
    public var fields: [Field]

    /// Creates an event definition.
    public init(name: String, fields: [Field]) {
        self.name = name
        self.fields = fields
    }
}

/// A custom record type (`type Address { street: String }`), usable as a field type.
public struct TypeDefinition: Sendable, Hashable, Codable {
    /// The type's name in UpperCamelCase, e.g. `Address`.
    public var name: String
    /// The fields, in the order they were written.
    public var fields: [Field]

    /// Creates a custom type definition.
    public init(name: String, fields: [Field]) {
        self.name = name
        self.fields = fields
    }
}

/// A named, typed field of an event, a custom type, or a command parameter.
public struct Field: Sendable, Hashable, Codable {
    /// The name as written; it is also the JSON key on the wire.
    public var name: String
    /// The field's type.
    public var type: TypeReference

    /// Creates a field.
    public init(name: String, type: TypeReference) {
        self.name = name
        self.type = type
    }
}

/// A field's type: a scalar, a custom type, an array or an optional, nested freely
/// (`[String?]?` is `.optional(.array(.optional(.scalar(.string))))`).
///
/// Its `Codable` form is the ESDL text as a string (`"[String?]?"`), see
/// ``TypeReference/description``.
public indirect enum TypeReference: Sendable, Hashable, Codable {
    /// A built-in scalar: `Int`, `String`, …
    case scalar(Scalar)
    /// A custom type defined with `type Name { … }` in the same file.
    case custom(String)
    /// `[T]`: a JSON array of `T`.
    case array(TypeReference)
    /// `T?`: absent, `null`, or a `T`.
    case optional(TypeReference)

    /// Whether a value may be absent or `null`.
    public var isOptional: Bool {
        if case .optional = self { return true }
        return false
    }
}

/// The built-in scalar types.
public enum Scalar: String, Sendable, Hashable, Codable, CaseIterable {
    /// UTF-8 text.
    case string = "String"
    /// A 32-bit signed integer.
    case int = "Int"
    /// A 64-bit signed integer.
    case long = "Long"
    /// A 32-bit float.
    case float = "Float"
    /// A 64-bit float.
    case double = "Double"
    /// `true` or `false`.
    case bool = "Bool"
    /// Binary data, base64 in JSON.
    case bytes = "Bytes"
}

/// A semantic version `major.minor.patch` with optional pre-release and build parts,
/// ordered by semver precedence (build metadata ignored).
///
/// Parse one with ``SemanticVersion/init(_:)``; its `Codable` form is the string
/// (`"1.2.3-rc.1"`).
public struct SemanticVersion: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    /// The major version: incompatible changes.
    public var major: Int
    /// The minor version: compatible additions.
    public var minor: Int
    /// The patch version: compatible fixes.
    public var patch: Int
    /// Dot-separated pre-release identifiers (`["rc", "1"]` for `-rc.1`).
    public var prerelease: [String]
    /// Dot-separated build identifiers (`+build.5`), ignored when comparing.
    public var build: [String]

    /// Creates a version from its parts (not checked against the semver grammar).
    public init(major: Int, minor: Int, patch: Int, prerelease: [String] = [], build: [String] = []) {
        self.major = major
        self.minor = minor
        self.patch = patch
        self.prerelease = prerelease
        self.build = build
    }
}
