extension TypeReference: CustomStringConvertible {
    /// The type as written in ESDL: `Int`, `Address`, `[String?]?`.
    public var description: String {
        switch self {
        case .scalar(let scalar): scalar.rawValue
        case .custom(let name): name
        case .array(let element): "[\(element)]"
        case .optional(let wrapped): "\(wrapped)?"
        }
    }

    /// Parses a type written in ESDL syntax (`[String?]?`), as in a field declaration.
    ///
    /// Returns `nil` for anything else, including names that are not identifiers and a
    /// doubled `?`. Custom names are not checked against any schema.
    public init?(_ text: String) {
        guard let reference = Parser.parseStandaloneType(text) else { return nil }
        self = reference
    }

    /// The type with one level of optionality removed (`Int?` → `Int`); other types unchanged.
    public var nonOptional: TypeReference {
        if case .optional(let wrapped) = self { return wrapped }
        return self
    }

    /// The scalar or custom type at the heart of the type, inside every array and optional
    /// (`[Address?]?` → `.custom("Address")`).
    public var base: TypeReference {
        var reference = self
        while true {
            switch reference {
            case .array(let inner), .optional(let inner): reference = inner
            case .scalar, .custom: return reference
            }
        }
    }
}

extension TypeReference {
    /// Decodes a type from its ESDL text, `"[String?]?"`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let reference = TypeReference(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "invalid ESDL type '\(text)'")
        }
        self = reference
    }

    /// Encodes the type as its ESDL text, `"[String?]?"`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension Parser {
    /// Parses a lone type; `nil` if the text is anything more or less than a valid type.
    static func parseStandaloneType(_ text: String) -> TypeReference? {
        let (tokens, lexical) = Lexer.tokenize(text, file: "")
        guard lexical.isEmpty else { return nil }
        var parser = Parser(tokens: tokens, file: "")
        guard let type = parser.parseTypeForReuse(), parser.diagnostics.isEmpty, parser.isAtEnd else { return nil }
        if case .custom(let name) = type.reference.base, !Identifier.isValid(name) { return nil }
        return type.reference
    }
}
