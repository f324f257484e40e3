/// Splits ESDL source into tokens, skipping whitespace and comments.
///
/// The lexer never fails: characters that cannot start a token are reported once per run
/// and skipped, and an unterminated comment or string is reported and closed at the end
/// of the input (or line), so the parser always gets a token list ending in `.end`.
struct Lexer {
    private let scalars: [Unicode.Scalar]
    private let file: String
    private var index = 0
    private var line = 1
    private var column = 1
    private var sawLineBreak = true
    private(set) var tokens: [Token] = []
    private(set) var diagnostics: [Diagnostic] = []

    init(_ text: String, file: String) {
        self.scalars = Array(text.unicodeScalars)
        self.file = file
    }

    /// Tokenises the whole input.
    static func tokenize(_ text: String, file: String) -> (tokens: [Token], diagnostics: [Diagnostic]) {
        var lexer = Lexer(text, file: file)
        lexer.run()
        return (lexer.tokens, lexer.diagnostics)
    }

    private mutating func run() {
        while true {
            skipTrivia()
            guard index < scalars.count else { break }
            lexToken()
        }
        tokens.append(
            Token(kind: .end, text: "", line: line, column: column, length: 0, startsLine: sawLineBreak)
        )
    }

    private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        let position = index + offset
        return position < scalars.count ? scalars[position] : nil
    }

    /// Moves past one scalar, keeping line and column; `\r\n` is one line break.
    private mutating func advance() {
        let scalar = scalars[index]
        index += 1
        if scalar == "\n" || (scalar == "\r" && peek() != "\n") {
            line += 1
            column = 1
            sawLineBreak = true
        } else if scalar == "\r" {
            // The `\n` that follows ends the line.
            column += 1
        } else {
            column += 1
        }
    }

    private mutating func skipTrivia() {
        while let scalar = peek() {
            if scalar == "/" && peek(1) == "/" {
                while let next = peek(), next != "\n", next != "\r" { advance() }
            } else if scalar == "/" && peek(1) == "*" {
                skipBlockComment()
            } else if Lexer.isWhitespace(scalar) {
                advance()
            } else {
                return
            }
        }
    }

    private mutating func skipBlockComment() {
        let startLine = line
        let startColumn = column
        advance()
        advance()
        while index < scalars.count {
            if scalars[index] == "*" && peek(1) == "/" {
                advance()
                advance()
                return
            }
            advance()
        }
        diagnostics.append(
            .error(
                .syntax,
                "unterminated comment; expected '*/' before the end of the file",
                at: SourceLocation(file: file, line: startLine, column: startColumn, length: 2)
            )
        )
    }

    private mutating func lexToken() {
        let startIndex = index
        let startLine = line
        let startColumn = column
        let startsLine = sawLineBreak
        let scalar = scalars[index]

        func emit(_ kind: Token.Kind, _ text: String, length: Int) {
            tokens.append(
                Token(
                    kind: kind, text: text, line: startLine, column: startColumn, length: length,
                    startsLine: startsLine
                )
            )
            sawLineBreak = false
        }

        func single(_ kind: Token.Kind) {
            advance()
            emit(kind, String(Character(scalar)), length: 1)
        }

        switch scalar {
        case "{": single(.leftBrace)
        case "}": single(.rightBrace)
        case "(": single(.leftParen)
        case ")": single(.rightParen)
        case "[": single(.leftBracket)
        case "]": single(.rightBracket)
        case ":": single(.colon)
        case ",": single(.comma)
        case ".": single(.dot)
        case "?": single(.question)
        case "|": single(.pipe)
        case "=":
            if peek(1) == ">" {
                advance()
                advance()
                diagnostics.append(
                    .error(
                        .syntax, "expected '->' before the returned event, found '=>'",
                        at: SourceLocation(file: file, line: startLine, column: startColumn, length: 2)
                    )
                )
                emit(.arrow, "=>", length: 2)
            } else {
                single(.equals)
            }
        case "-" where peek(1) == ">":
            advance()
            advance()
            emit(.arrow, "->", length: 2)
        case "\"":
            let contents = lexString(startLine: startLine, startColumn: startColumn)
            emit(.string, contents, length: index - startIndex)
        default:
            if Lexer.isWordScalar(scalar) {
                advance()
                while let next = peek() {
                    if Lexer.isWordScalar(next) {
                        advance()
                    } else if next == "-", let after = peek(1), Lexer.isWordScalar(after) {
                        advance()
                    } else {
                        break
                    }
                }
                emit(.word, text(from: startIndex), length: index - startIndex)
            } else {
                skipInvalidRun(startLine: startLine, startColumn: startColumn)
            }
        }
    }

    /// Reads a string literal up to its closing quote or the end of the line, returning its
    /// contents.
    private mutating func lexString(startLine: Int, startColumn: Int) -> String {
        advance()
        let contentStart = index
        while let next = peek(), next != "\"", next != "\n", next != "\r" { advance() }
        let contents = text(from: contentStart)
        if peek() == "\"" {
            advance()
        } else {
            diagnostics.append(
                .error(
                    .syntax, "unterminated string; expected '\"' before the end of the line",
                    at: SourceLocation(file: file, line: startLine, column: startColumn, length: 1)
                )
            )
        }
        return contents
    }

    /// Reports a run of characters that cannot start a token as one diagnostic, so that
    /// binary garbage does not produce thousands of errors.
    private mutating func skipInvalidRun(startLine: Int, startColumn: Int) {
        let startIndex = index
        while let next = peek(), !Lexer.startsToken(next), !Lexer.isWhitespace(next) {
            if next == "-" && peek(1) == ">" { break }
            advance()
            if index - startIndex >= 64 { break }
        }
        if index == startIndex { advance() }
        let run = text(from: startIndex)
        let count = index - startIndex
        let shown =
            run.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F }
            ? "'\(run)'" : "U+" + String(scalars[startIndex].value, radix: 16, uppercase: true)
        let hint: String
        switch run {
        case ";": hint = "; fields and parameters are separated by ',' or a new line"
        case "-": hint = "; a command's return is written '-> Event'"
        case "!": hint = "; fields are required unless marked optional with '?'"
        default: hint = ""
        }
        diagnostics.append(
            .error(
                .syntax, "unexpected character\(count > 1 ? "s" : "") \(shown)\(hint)",
                at: SourceLocation(file: file, line: startLine, column: startColumn, length: count)
            )
        )
    }

    private func text(from start: Int) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[start..<index])
        return String(view)
    }

    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case " ", "\t", "\n", "\r", "\u{FEFF}", "\u{0B}", "\u{0C}": return true
        default: return scalar.value > 0x7F && scalar.properties.isWhitespace
        }
    }

    static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "_": return true
        default:
            guard scalar.value > 0x7F else { return false }
            return scalar.properties.isAlphabetic || scalar.properties.numericType != nil
        }
    }

    /// Whether a scalar begins a token, which ends a run of invalid characters.
    private static func startsToken(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "{", "}", "(", ")", "[", "]", ":", ",", ".", "?", "|", "=", "\"", "/": return true
        default: return isWordScalar(scalar)
        }
    }
}
