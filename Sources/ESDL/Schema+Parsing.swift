extension Schema {
    /// How many arrays a type may nest (`[[[Int]]]` is 3); deeper types are rejected.
    public static let maximumTypeNesting = 32

    /// How many diagnostics ``analyze(_:file:)`` reports before it gives up on a file
    /// (garbage input can otherwise produce one per token); the last one says how many
    /// more were found.
    public static let maximumDiagnostics = 200

    /// Parses and validates ESDL source.
    ///
    /// ```swift
    /// let schema = try Schema.parse(text, file: "bank_account.esdl")
    /// schema.aggregate.name // "BankAccount"
    /// ```
    ///
    /// - Parameters:
    ///   - text: The ESDL source.
    ///   - file: The name used in diagnostics (`bank.esdl:4:25: error: …`).
    /// - Throws: ``ESDLError`` with every error found (syntax and semantic), ordered by
    ///   position, and the source so that `description` shows the offending lines.
    ///   Warnings alone do not throw; use ``analyze(_:file:)`` to see them.
    public static func parse(_ text: String, file: String = "<input>") throws(ESDLError) -> Schema {
        let analysis = analyze(text, file: file)
        guard let schema = analysis.schema else {
            throw ESDLError(diagnostics: analysis.diagnostics.filter { $0.severity == .error }, source: text)
        }
        return schema
    }

    /// Parses and validates ESDL source and returns everything found: the schema when
    /// there is no error, and every diagnostic (errors and warnings) ordered by position.
    ///
    /// This never throws, crashes or hangs, whatever the input.
    public static func analyze(_ text: String, file: String = "<input>") -> Analysis {
        let (syntax, syntaxDiagnostics) = Parser.parse(text, file: file)
        let (schema, semanticDiagnostics) = Validator.validate(
            syntax, file: file, hasSyntaxErrors: syntaxDiagnostics.contains { $0.severity == .error })
        var diagnostics = syntaxDiagnostics + semanticDiagnostics
        // Stable sort by position so the output reads from top to bottom.
        diagnostics = diagnostics.enumerated()
            .sorted { ($0.element.location, $0.offset) < ($1.element.location, $1.offset) }
            .map(\.element)
        if diagnostics.count > maximumDiagnostics {
            let dropped = diagnostics.count - maximumDiagnostics
            let location = diagnostics[maximumDiagnostics].location
            diagnostics.removeSubrange(maximumDiagnostics...)
            diagnostics.append(
                .error(
                    .tooManyErrors,
                    "too many problems: stopped after \(maximumDiagnostics), \(dropped) more not shown; fix these first",
                    at: location))
        }
        let hasErrors = diagnostics.contains { $0.severity == .error }
        return Analysis(schema: hasErrors ? nil : schema, diagnostics: diagnostics, source: text)
    }

    /// The result of ``Schema/analyze(_:file:)``.
    public struct Analysis: Sendable, Hashable {
        /// The schema, when the source has no error.
        public var schema: Schema?
        /// Every error and warning, ordered by position.
        public var diagnostics: [Diagnostic]
        /// The analysed source text.
        public var source: String

        /// Creates an analysis result.
        public init(schema: Schema?, diagnostics: [Diagnostic], source: String) {
            self.schema = schema
            self.diagnostics = diagnostics
            self.source = source
        }

        /// The diagnostics as an error (for rendering), whatever their severity.
        public var error: ESDLError { ESDLError(diagnostics: diagnostics, source: source) }
    }
}
