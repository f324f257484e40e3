/// One lexical unit of ESDL source.
struct Token: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        /// A run of letters, digits and `_` (also non-ASCII letters and inner `-`, so that
        /// the validator can say why `deposit-funds` or `café` is not a valid name).
        case word
        /// A double-quoted string; ``Token/text`` holds the contents without the quotes.
        case string
        case equals
        case leftBrace
        case rightBrace
        case leftParen
        case rightParen
        case leftBracket
        case rightBracket
        case colon
        case comma
        case dot
        case arrow
        case question
        case pipe
        /// The end of the input.
        case end
    }

    var kind: Kind
    /// The token's text as written (for strings, without the quotes).
    var text: String
    /// 1-based line of the first character.
    var line: Int
    /// 1-based column of the first character, counting Unicode scalars.
    var column: Int
    /// The number of Unicode scalars the token spans in the source (quotes included).
    var length: Int
    /// Whether a line break comes between this token and the previous one.
    var startsLine: Bool

    /// How the token is named in "found …" messages.
    var quoted: String {
        switch kind {
        case .end: return "end of file"
        case .string: return "\"\(text)\""
        default: return "'\(text)'"
        }
    }

    func isWord(_ text: String) -> Bool {
        kind == .word && self.text == text
    }
}
