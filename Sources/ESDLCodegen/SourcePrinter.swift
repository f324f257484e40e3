/// Accumulates generated source text with indentation, in the manner of WasmKit's
/// `WITOverlayGenerator/SourcePrinter.swift`.
struct SourcePrinter {
    /// The text printed so far.
    private(set) var text = ""
    private var level = 0

    /// Prints one line at the current indentation; an empty line has no trailing spaces.
    mutating func line(_ content: String = "") {
        if !content.isEmpty {
            text += String(repeating: "    ", count: level)
            text += content
        }
        text += "\n"
    }

    /// Prints several lines at the current indentation.
    mutating func lines(_ content: String) {
        for line in content.split(separator: "\n", omittingEmptySubsequences: false) {
            self.line(String(line))
        }
    }

    /// Prints `opener`, the body indented one level, then `closer`.
    mutating func block(_ opener: String, closer: String = "}", _ body: (inout SourcePrinter) -> Void) {
        line(opener)
        level += 1
        body(&self)
        level -= 1
        line(closer)
    }

    /// Runs `body` one level deeper, without printing braces.
    mutating func indented(_ body: (inout SourcePrinter) -> Void) {
        level += 1
        body(&self)
        level -= 1
    }

    /// Prints a `switch` whose `case` lines stay at the `switch`'s indentation.
    mutating func switchBlock(_ opener: String, _ body: (inout SourcePrinter) -> Void) {
        line(opener)
        body(&self)
        line("}")
    }
}
