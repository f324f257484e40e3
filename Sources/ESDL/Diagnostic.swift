/// A problem found in an ESDL source, with where it is, what was found and what was
/// expected.
///
/// The parser and validator collect every diagnostic they can instead of stopping at the
/// first, so one run shows all the mistakes in a file. ``rendered(source:colored:)``
/// prints one the way a compiler does:
///
/// ```
/// bank.esdl:4:25: error: unknown type 'Integer'; expected one of String, Int, Long, Float, Double, Bool, Bytes or a type defined in this file
///   deposit_funds(amount: Integer) -> DepositedFunds
///                         ^~~~~~~
/// ```
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    /// How serious a diagnostic is.
    public enum Severity: String, Sendable, Hashable, Comparable {
        /// The schema is rejected.
        case error
        /// The schema is accepted, but something looks wrong.
        case warning
        /// Extra information attached to another diagnostic.
        case note

        private var rank: Int {
            switch self {
            case .error: 0
            case .warning: 1
            case .note: 2
            }
        }

        /// Errors sort before warnings, warnings before notes.
        public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
    }

    /// A stable identifier of the kind of problem, for tools and tests to match on
    /// instead of the wording of the message.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The code's text, e.g. `unknown-type`.
        public var rawValue: String

        /// Creates a code from its text.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The code's text.
        public var description: String { rawValue }

        /// Something the grammar does not allow: a stray character, a missing `:` or `}`,
        /// an unterminated comment or string.
        public static let syntax = Code(rawValue: "syntax")
        /// Types nest deeper than ``Schema/maximumTypeNesting`` levels.
        public static let tooDeeplyNested = Code(rawValue: "too-deeply-nested")
        /// So many problems were found that the rest are not listed.
        public static let tooManyErrors = Code(rawValue: "too-many-errors")
        /// The file has no `version = "…"` line.
        public static let missingVersion = Code(rawValue: "missing-version")
        /// The file has more than one `version = "…"` line.
        public static let repeatedVersion = Code(rawValue: "repeated-version")
        /// The version is not a semantic version `MAJOR.MINOR.PATCH`.
        public static let invalidVersion = Code(rawValue: "invalid-version")
        /// The file defines no aggregate.
        public static let missingAggregate = Code(rawValue: "missing-aggregate")
        /// The file defines more than one aggregate.
        public static let repeatedAggregate = Code(rawValue: "repeated-aggregate")
        /// A field or parameter names a type that is neither a scalar nor defined.
        public static let unknownType = Code(rawValue: "unknown-type")
        /// A command returns an event that is not defined.
        public static let unknownEvent = Code(rawValue: "unknown-event")
        /// Two commands of the aggregate have the same name.
        public static let duplicateCommand = Code(rawValue: "duplicate-command")
        /// Two events have the same name.
        public static let duplicateEvent = Code(rawValue: "duplicate-event")
        /// Two custom types have the same name.
        public static let duplicateType = Code(rawValue: "duplicate-type")
        /// Two fields of one event or type have the same name.
        public static let duplicateField = Code(rawValue: "duplicate-field")
        /// Two parameters of one command have the same name.
        public static let duplicateParameter = Code(rawValue: "duplicate-parameter")
        /// A command lists the same event twice in its tuple.
        public static let duplicateReturn = Code(rawValue: "duplicate-return")
        /// A custom type contains itself through required fields, so no finite value exists.
        public static let recursiveType = Code(rawValue: "recursive-type")
        /// A name is not an identifier (`[A-Za-z_][A-Za-z0-9_]*`).
        public static let invalidName = Code(rawValue: "invalid-name")
        /// A definition has the same name as another kind of definition or a built-in type.
        public static let nameClash = Code(rawValue: "name-clash")
        /// An aggregate, event or type has a name reserved for generated Swift code: a Swift
        /// keyword, a name of the guest SDK, or one derived from the aggregate's name (see
        /// ``Schema/reservation(of:as:aggregate:)``).
        public static let reservedName = Code(rawValue: "reserved-name")
        /// An event is used as the type of a field or parameter.
        public static let eventUsedAsType = Code(rawValue: "event-used-as-type")
        /// A command returns a custom type instead of an event.
        public static let typeUsedAsEvent = Code(rawValue: "type-used-as-event")
        /// The aggregate has no commands.
        public static let emptyAggregate = Code(rawValue: "empty-aggregate")
        /// A version requirement (`^1.2`, `>=1.0.0, <2.0.0`) could not be parsed.
        public static let invalidVersionRequirement = Code(rawValue: "invalid-version-requirement")
        /// A schema's JSON form is malformed or does not describe a valid schema.
        public static let invalidSchemaJSON = Code(rawValue: "invalid-schema-json")
    }

    /// Extra information about a diagnostic, such as where a duplicate was first defined.
    public struct Note: Sendable, Hashable {
        /// What the note says, e.g. `'amount' was first defined here`.
        public var message: String
        /// Where the note points; the source line is shown when it differs from the
        /// diagnostic's own line.
        public var location: SourceLocation

        /// Creates a note.
        public init(_ message: String, at location: SourceLocation) {
            self.message = message
            self.location = location
        }
    }

    /// Whether this rejects the schema.
    public var severity: Severity
    /// The kind of problem.
    public var code: Code
    /// What was found and what was expected, in one line without a trailing period.
    public var message: String
    /// Where the problem is.
    public var location: SourceLocation
    /// Further places and hints.
    public var notes: [Note]

    /// Creates a diagnostic.
    public init(
        _ severity: Severity,
        _ code: Code,
        _ message: String,
        at location: SourceLocation,
        notes: [Note] = []
    ) {
        self.severity = severity
        self.code = code
        self.message = message
        self.location = location
        self.notes = notes
    }

    /// Creates an error.
    public static func error(_ code: Code, _ message: String, at location: SourceLocation, notes: [Note] = [])
        -> Diagnostic
    {
        Diagnostic(.error, code, message, at: location, notes: notes)
    }

    /// Creates a warning.
    public static func warning(_ code: Code, _ message: String, at location: SourceLocation, notes: [Note] = [])
        -> Diagnostic
    {
        Diagnostic(.warning, code, message, at: location, notes: notes)
    }

    /// `file:line:column: severity: message`, one line, without the source excerpt (and
    /// without the position when the location has no file name).
    public var description: String {
        let place = location.file.isEmpty ? "" : "\(location): "
        return "\(place)\(severity.rawValue): \(message)"
    }
}
