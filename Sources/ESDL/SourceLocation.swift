/// A place in an ESDL source: the file, a 1-based line and column, and how many
/// characters the thing found there spans.
///
/// Columns count Unicode scalars from the start of the line, so a caret printed under
/// the source line lines up for ordinary text. A tab counts as one column.
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The file name as given to the parser (`bank.esdl`, `<input>`); empty when the text
    /// is not a file (a version requirement typed on a command line).
    public var file: String
    /// The line, starting at 1.
    public var line: Int
    /// The column, starting at 1.
    public var column: Int
    /// The number of characters to underline; 0 for a point such as the end of the file.
    public var length: Int

    /// Creates a location.
    public init(file: String, line: Int, column: Int, length: Int = 1) {
        self.file = file
        self.line = line
        self.column = column
        self.length = length
    }

    /// `file:line:column`, or `line:column` when there is no file name.
    public var description: String {
        file.isEmpty ? "\(line):\(column)" : "\(file):\(line):\(column)"
    }

    /// Orders by file, then position, so diagnostics read from top to bottom.
    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.file, lhs.line, lhs.column, lhs.length) < (rhs.file, rhs.line, rhs.column, rhs.length)
    }
}
