/// A problem with a command's or event's JSON payload, or with the events a command
/// returned: where (a path such as `items[2].price`) and what.
///
/// ```swift
/// let errors = schema.validateCommand("deposit_funds", payload: ["amount": "ten"])
/// errors.map(\.description) // ["amount: expected Int, found \"ten\""]
/// ```
public struct PayloadError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable identifier of the kind of problem.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The code's text, e.g. `type-mismatch`.
        public var rawValue: String

        /// Creates a code from its text.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The code's text.
        public var description: String { rawValue }

        /// The aggregate has no command of that name.
        public static let unknownCommand = Code(rawValue: "unknown-command")
        /// The schema has no event of that name.
        public static let unknownEvent = Code(rawValue: "unknown-event")
        /// A value has the wrong JSON type (a string where an `Int` is expected).
        public static let typeMismatch = Code(rawValue: "type-mismatch")
        /// A number does not fit the declared integer type.
        public static let outOfRange = Code(rawValue: "out-of-range")
        /// A `Bytes` value is not valid base64.
        public static let invalidBase64 = Code(rawValue: "invalid-base64")
        /// A required field is absent.
        public static let missingField = Code(rawValue: "missing-field")
        /// The payload has a field the schema does not declare.
        public static let unknownField = Code(rawValue: "unknown-field")
        /// The payload nests deeper than ``Schema/maximumPayloadDepth``.
        public static let tooDeep = Code(rawValue: "too-deep")
        /// A command did not return an event its declaration requires.
        public static let missingEvent = Code(rawValue: "missing-event")
        /// A command returned an event twice, or events in another order than declared.
        public static let eventOrder = Code(rawValue: "event-order")
        /// More problems were found than are listed (see ``Schema/maximumListedProblems``);
        /// this last entry says how many more.
        public static let moreProblems = Code(rawValue: "more-problems")
        /// A command returned an event its declaration does not list.
        public static let unexpectedEvent = Code(rawValue: "unexpected-event")
    }

    /// The kind of problem.
    public var code: Code
    /// Where in the payload: field names joined by `.`, array indices in brackets
    /// (`items[2].price`); empty for the payload as a whole.
    public var path: String
    /// What was found and what was expected, e.g. `expected Int, found "abc"`.
    public var message: String

    /// Creates a payload error.
    public init(_ code: Code, path: String, message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    /// `path: message`, or the message alone for the whole payload.
    public var description: String {
        path.isEmpty ? message : "\(path): \(message)"
    }
}
