/// The error thrown when an ESDL source (or a schema's JSON form, or a version
/// requirement) is rejected: every diagnostic found, and the text they refer to so that
/// they can be shown with the offending lines.
///
/// ```swift
/// do {
///     let schema = try Schema.parse(text, file: "bank.esdl")
/// } catch {
///     print(error)                       // all diagnostics, compiler style
///     print(error.rendered(colored: true)) // with ANSI colours for a terminal
/// }
/// ```
public struct ESDLError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Every problem found, errors and warnings, ordered by position in the source.
    public var diagnostics: [Diagnostic]
    /// The text the diagnostics point into, used to print source lines; `nil` prints
    /// the headers only.
    public var source: String?

    /// Creates an error from diagnostics and the text they refer to.
    public init(diagnostics: [Diagnostic], source: String?) {
        self.diagnostics = diagnostics
        self.source = source
    }

    /// The diagnostics of severity ``Diagnostic/Severity/error``.
    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }

    /// The first error's code, for callers that only need to know what kind of problem
    /// this is.
    public var code: Diagnostic.Code? { errors.first?.code ?? diagnostics.first?.code }

    /// All diagnostics rendered compiler style, without colour.
    public var description: String { rendered(colored: false) }

    /// All diagnostics rendered compiler style, each with its source line and caret,
    /// separated by newlines.
    ///
    /// - Parameter colored: Whether to add ANSI colours (for a terminal).
    public func rendered(colored: Bool) -> String {
        let lines = source.map(SourceLines.init)
        let style = RenderStyle(colored: colored)
        var output = ""
        for (offset, diagnostic) in diagnostics.enumerated() {
            if offset > 0 { output += "\n" }
            diagnostic.render(into: &output, lines: lines, style: style)
        }
        return output
    }
}
