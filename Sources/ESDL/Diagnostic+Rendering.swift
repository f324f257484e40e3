extension Diagnostic {
    /// Renders the diagnostic the way a compiler does: the `file:line:column: error:`
    /// header, the offending source line, a caret and underline beneath the location,
    /// then each note (with its own excerpt when it points somewhere else).
    ///
    /// ```
    /// bank.esdl:4:25: error: unknown type 'Integer'; expected one of String, Int, Long, Float, Double, Bool, Bytes or a type defined in this file
    ///   deposit_funds(amount: Integer) -> DepositedFunds
    ///                         ^~~~~~~
    /// bank.esdl:4:25: note: did you mean 'Int'?
    /// ```
    ///
    /// - Parameters:
    ///   - source: The text the diagnostic refers to; without it only the headers are printed.
    ///   - colored: Whether to add ANSI colours (for a terminal).
    /// - Returns: The rendered text, lines separated by `\n`, without a trailing newline.
    public func rendered(source: String?, colored: Bool = false) -> String {
        let lines = source.map(SourceLines.init)
        var output = ""
        render(into: &output, lines: lines, style: RenderStyle(colored: colored))
        return output
    }

    func render(into output: inout String, lines: SourceLines?, style: RenderStyle) {
        appendHeader(severity, message, at: location, into: &output, style: style)
        appendExcerpt(of: location, lines: lines, into: &output, style: style)
        for note in notes {
            output += "\n"
            appendHeader(.note, note.message, at: note.location, into: &output, style: style)
            // A note at the diagnostic's own spot (a suggestion) needs no second excerpt.
            if note.location != location {
                appendExcerpt(of: note.location, lines: lines, into: &output, style: style)
            }
        }
    }

    private func appendHeader(
        _ severity: Severity,
        _ message: String,
        at location: SourceLocation,
        into output: inout String,
        style: RenderStyle
    ) {
        output += style.bold
        if !location.file.isEmpty {
            output += "\(location): "
        }
        output += style.color(for: severity)
        output += severity.rawValue
        output += ": "
        output += style.reset
        output += style.bold
        output += message
        output += style.reset
    }

    private func appendExcerpt(
        of location: SourceLocation,
        lines: SourceLines?,
        into output: inout String,
        style: RenderStyle
    ) {
        guard let lines, let line = lines.line(location.line) else { return }
        let scalars = Array(line.unicodeScalars)
        // Show at most a window of a very long line (minified or generated input), so
        // that each diagnostic stays readable and the output stays small.
        let width = 160
        let caretIndex = max(0, location.column - 1)
        var start = 0
        var end = scalars.count
        if scalars.count > width {
            start = max(0, min(caretIndex - width / 3, scalars.count - width))
            end = min(scalars.count, start + width)
        }
        let prefix = start > 0 ? "…" : ""
        output += "\n"
        output += prefix
        output += String(String.UnicodeScalarView(scalars[start..<end]))
        if end < scalars.count { output += "…" }
        output += "\n"
        output += prefix.isEmpty ? "" : " "
        // Copy tabs from the source so the caret lines up whatever the tab width.
        for index in start..<min(caretIndex, end) {
            output += scalars[index] == "\t" ? "\t" : " "
        }
        if caretIndex > end { output += String(repeating: " ", count: min(caretIndex - end, width)) }
        let available = max(1, min(end, scalars.count) - caretIndex)
        let underline = max(0, min(location.length, available) - 1)
        output += style.caret
        output += "^"
        output += String(repeating: "~", count: underline)
        output += style.reset
    }
}

/// The lines of a source text, split once so that many diagnostics can be rendered.
struct SourceLines {
    private let lines: [Substring]

    init(_ text: String) {
        var lines: [Substring] = []
        var start = text.startIndex
        var index = start
        while index != text.endIndex {
            let character = text[index]
            if character == "\n" || character == "\r\n" || character == "\r" {
                lines.append(text[start..<index])
                index = text.index(after: index)
                start = index
            } else {
                index = text.index(after: index)
            }
        }
        lines.append(text[start..<text.endIndex])
        self.lines = lines
    }

    /// The text of a 1-based line, without its line break.
    func line(_ number: Int) -> Substring? {
        guard number >= 1, number <= lines.count else { return nil }
        return lines[number - 1]
    }
}

/// ANSI escape sequences, or empty strings when colour is off.
struct RenderStyle {
    let colored: Bool

    var bold: String { colored ? "\u{1B}[1m" : "" }
    var reset: String { colored ? "\u{1B}[0m" : "" }
    var caret: String { colored ? "\u{1B}[1;32m" : "" }

    func color(for severity: Diagnostic.Severity) -> String {
        guard colored else { return "" }
        switch severity {
        case .error: return "\u{1B}[1;31m"
        case .warning: return "\u{1B}[1;35m"
        case .note: return "\u{1B}[1;36m"
        }
    }
}
