/// A recursive-descent parser from tokens to a ``SyntaxFile``.
///
/// It never stops at the first mistake: after an error it skips to a point where parsing
/// can sensibly continue (the next field, the next line, the next top-level definition)
/// so that one run reports every syntax error. Every loop consumes at least one token per
/// iteration, and types are parsed without recursion, so no input can make it hang or
/// exhaust the stack.
struct Parser {
    private let tokens: [Token]
    private let file: String
    private var position = 0
    private(set) var diagnostics: [Diagnostic] = []
    private var syntax = SyntaxFile()

    private static let topLevelKeywords: Set<String> = ["version", "aggregate", "event", "type"]

    init(tokens: [Token], file: String) {
        self.tokens = tokens
        self.file = file
    }

    /// Parses ESDL source into a syntax tree and the lexical and syntax diagnostics.
    static func parse(_ text: String, file: String) -> (syntax: SyntaxFile, diagnostics: [Diagnostic]) {
        let (tokens, lexical) = Lexer.tokenize(text, file: file)
        var parser = Parser(tokens: tokens, file: file)
        parser.diagnostics = lexical
        parser.parseFile()
        return (parser.syntax, parser.diagnostics)
    }

    // MARK: - Token access

    private var current: Token { tokens[position] }

    private func peek(_ offset: Int) -> Token {
        tokens[min(position + offset, tokens.count - 1)]
    }

    @discardableResult
    private mutating func advance() -> Token {
        let token = tokens[position]
        if position < tokens.count - 1 { position += 1 }
        return token
    }

    private var atEnd: Bool { current.kind == .end }

    private func location(of token: Token) -> SourceLocation {
        SourceLocation(file: file, line: token.line, column: token.column, length: token.length)
    }

    private func name(_ token: Token) -> NameSyntax {
        NameSyntax(text: token.text, location: location(of: token))
    }

    private func found(_ token: Token) -> String {
        switch token.kind {
        case .end: return "end of file"
        case .string: return "\"\(Parser.shorten(token.text))\""
        default: return "'\(Parser.shorten(token.text))'"
        }
    }

    static func shorten(_ text: String) -> String {
        text.count > 40 ? String(text.prefix(40)) + "…" : text
    }

    private mutating func error(_ message: String, at token: Token, notes: [Diagnostic.Note] = []) {
        diagnostics.append(.error(.syntax, message, at: location(of: token), notes: notes))
    }

    /// Whether the current token starts a top-level definition on its own line: a likely
    /// sign that the block being read was never closed.
    private var looksLikeTopLevelDefinition: Bool {
        guard current.startsLine, current.kind == .word else { return false }
        switch current.text {
        case "version": return peek(1).kind == .equals
        case "aggregate", "event", "type": return peek(1).kind == .word && peek(2).kind == .leftBrace
        default: return false
        }
    }

    /// Skips at least one token, then up to the next token that starts a line or is one
    /// of `stops`.
    private mutating func skipRestOfLine(stoppingAt stops: Set<Token.Kind> = [.rightBrace]) {
        advance()
        while !atEnd && !current.startsLine && !stops.contains(current.kind) {
            advance()
        }
    }

    /// Skips to the next top-level keyword outside braces.
    private mutating func skipToTopLevel() {
        var depth = 0
        while !atEnd {
            switch current.kind {
            case .leftBrace: depth += 1
            case .rightBrace: depth = max(0, depth - 1)
            case .word where depth == 0 && Parser.topLevelKeywords.contains(current.text): return
            default: break
            }
            advance()
        }
    }

    // MARK: - File

    private mutating func parseFile() {
        while !atEnd {
            let start = position
            let token = current
            if token.kind == .word {
                switch token.text {
                case "version": parseVersion()
                case "aggregate": parseAggregate()
                case "event": if let record = parseRecord(kind: "event") { syntax.events.append(record) }
                case "type": if let record = parseRecord(kind: "type") { syntax.types.append(record) }
                default: unexpectedAtTopLevel()
                }
            } else {
                unexpectedAtTopLevel()
            }
            if position == start { advance() }
        }
    }

    private mutating func unexpectedAtTopLevel() {
        let token = current
        var notes: [Diagnostic.Note] = []
        if token.kind == .word,
            let suggestion = Suggestions.closest(to: token.text, among: ["version", "aggregate", "event", "type"])
        {
            notes.append(.init("did you mean '\(suggestion)'?", at: location(of: token)))
        }
        error(
            "expected 'version', 'aggregate', 'event' or 'type' at the top level, found \(found(token))",
            at: token, notes: notes)
        advance()
        skipToTopLevel()
    }

    // MARK: - version = "x.y.z"

    private mutating func parseVersion() {
        let keyword = advance()
        var version = VersionSyntax(keyword: location(of: keyword), value: nil)
        if current.kind == .equals {
            advance()
        } else {
            error("expected '=' after 'version', found \(found(current))", at: current)
            if current.kind != .string {
                if !current.startsLine { skipRestOfLine(stoppingAt: []) }
                syntax.versions.append(version)
                return
            }
        }
        let token = current
        if token.kind == .string {
            advance()
            let contents = SourceLocation(
                file: file, line: token.line, column: token.column + 1, length: token.text.unicodeScalars.count)
            version.value = NameSyntax(text: token.text, location: contents)
        } else if token.kind == .word, !token.startsLine {
            var text = ""
            var length = 0
            while !atEnd && !current.startsLine && (current.kind == .word || current.kind == .dot) {
                text += current.text
                length = current.column + current.length - token.column
                advance()
            }
            diagnostics.append(
                .error(
                    .syntax,
                    "expected the version in double quotes, as in version = \"\(text)\", found '\(Parser.shorten(text))'",
                    at: SourceLocation(file: file, line: token.line, column: token.column, length: length)))
        } else {
            error("expected the version as a string, as in version = \"0.1.0\", found \(found(token))", at: token)
        }
        syntax.versions.append(version)
    }

    // MARK: - Definitions

    /// Reads the name after `aggregate`, `event` or `type`.
    private mutating func parseDefinitionName(kind: String) -> NameSyntax? {
        if current.kind == .word && !(current.startsLine && Parser.topLevelKeywords.contains(current.text)) {
            return name(advance())
        }
        error("expected the \(kind)'s name after '\(kind)', found \(found(current))", at: current)
        return nil
    }

    /// Reads `{`; on failure reports it and skips to the next top-level definition.
    private mutating func openBlock(kind: String, name: NameSyntax?) -> Token? {
        if current.kind == .leftBrace { return advance() }
        let what = name.map { "'\(kind) \($0.text)'" } ?? "'\(kind)'"
        error("expected '{' after \(what), found \(found(current))", at: current)
        skipToTopLevel()
        return nil
    }

    /// Checks whether the block being read ends here: at `}` (consumed), at the end of the
    /// file or before what looks like the next top-level definition (both reported).
    private mutating func closesBlock(kind: String, name: NameSyntax?, opened: Token) -> Bool {
        if current.kind == .rightBrace {
            advance()
            return true
        }
        if atEnd || looksLikeTopLevelDefinition {
            let what = name.map { "\(kind) '\($0.text)'" } ?? kind
            error(
                "expected '}' to close \(what), found \(found(current))", at: current,
                notes: [.init("'{' opened here", at: location(of: opened))])
            return true
        }
        return false
    }

    private mutating func parseAggregate() {
        let keyword = advance()
        let name = parseDefinitionName(kind: "aggregate")
        var aggregate = AggregateSyntax(keyword: location(of: keyword), name: name, commands: [])
        defer { syntax.aggregates.append(aggregate) }
        guard let opened = openBlock(kind: "aggregate", name: name) else { return }
        while !closesBlock(kind: "aggregate", name: name, opened: opened) {
            if current.kind == .word {
                if let command = parseCommand() { aggregate.commands.append(command) }
            } else {
                error(
                    "expected a command such as 'deposit_funds(amount: Int) -> DepositedFunds' or '}', found \(found(current))",
                    at: current)
                skipRestOfLine()
            }
        }
    }

    private mutating func parseRecord(kind: String) -> RecordSyntax? {
        let keyword = advance()
        let name = parseDefinitionName(kind: kind)
        var record = RecordSyntax(keyword: location(of: keyword), name: name, fields: [])
        guard let opened = openBlock(kind: kind, name: name) else { return record }
        while !closesBlock(kind: kind, name: name, opened: opened) {
            switch current.kind {
            case .word:
                record.fields.append(parseField(role: "field"))
                if current.kind == .comma { advance() }
            case .comma:
                error("expected a field name, found ','", at: current)
                advance()
            default:
                error("expected a field such as 'amount: Int' or '}', found \(found(current))", at: current)
                skipRestOfLine()
            }
        }
        return record
    }

    // MARK: - Commands

    private mutating func parseCommand() -> CommandSyntax? {
        let nameToken = advance()
        var command = CommandSyntax(name: name(nameToken), parameters: [], returns: nil)
        if current.kind == .leftParen {
            let opened = advance()
            let closed = parseParameters(of: &command, opened: opened)
            if !closed && current.kind != .arrow { return command }
        } else if current.kind == .arrow {
            error("expected '(' and the parameters after command '\(nameToken.text)', found '->'", at: current)
        } else {
            error(
                "expected '(' and the parameters after command '\(nameToken.text)', found \(found(current))",
                at: current)
            if !current.startsLine && current.kind != .rightBrace { skipRestOfLine() }
            return nil
        }
        if current.kind == .arrow {
            advance()
            command.returns = parseReturn(of: nameToken.text)
        } else {
            error("expected '->' and the event that '\(nameToken.text)' returns, found \(found(current))", at: current)
            if !current.startsLine && current.kind != .rightBrace { skipRestOfLine() }
        }
        return command
    }

    /// Reads parameters up to `)`; returns whether the list was closed.
    private mutating func parseParameters(of command: inout CommandSyntax, opened: Token) -> Bool {
        while true {
            switch current.kind {
            case .rightParen:
                advance()
                return true
            case .word where !(current.startsLine && peek(1).kind == .leftParen):
                command.parameters.append(parseField(role: "parameter"))
                if current.kind == .comma { advance() }
            case .comma:
                error("expected a parameter name, found ','", at: current)
                advance()
            case .end, .rightBrace, .arrow, .leftBrace, .word:
                error(
                    "expected ')' to close the parameters of '\(command.name.text)', found \(found(current))",
                    at: current, notes: [.init("'(' opened here", at: location(of: opened))])
                return false
            default:
                if looksLikeTopLevelDefinition { return false }
                error("expected a parameter such as 'amount: Int' or ')', found \(found(current))", at: current)
                // Skip the junk up to something that can continue the list.
                advance()
                while ![.end, .rightParen, .comma, .rightBrace, .arrow].contains(current.kind) && !current.startsLine {
                    advance()
                }
            }
        }
    }

    private mutating func parseReturn(of command: String) -> ReturnSyntax? {
        if current.kind == .leftParen {
            let opened = advance()
            var returns = ReturnSyntax(events: [], isTuple: true, listIsOptional: false)
            while true {
                guard current.kind == .word else {
                    error("expected an event name, found \(found(current))", at: current)
                    if current.kind == .rightParen { advance() }
                    return returns.events.isEmpty ? nil : returns
                }
                let event = name(advance())
                returns.events.append((event, parseReturnOptionality()))
                if current.kind == .pipe {
                    advance()
                } else if current.kind == .rightParen {
                    advance()
                    break
                } else {
                    error(
                        "expected '|' or ')' after '\(event.text)', found \(found(current))", at: current,
                        notes: [.init("'(' opened here", at: location(of: opened))])
                    return returns
                }
            }
            returns.listIsOptional = parseReturnOptionality()
            return returns
        }
        guard current.kind == .word, !current.startsLine || peek(1).kind != .leftParen else {
            error("expected the event that '\(command)' returns after '->', found \(found(current))", at: current)
            return nil
        }
        let event = name(advance())
        var returns = ReturnSyntax(events: [(event, parseReturnOptionality())], isTuple: false, listIsOptional: false)
        if current.kind == .pipe {
            error(
                "several events must be written as a tuple in parentheses, as in -> (\(event.text) | …)", at: current)
            while current.kind == .pipe {
                advance()
                guard current.kind == .word else { break }
                returns.events.append((name(advance()), parseReturnOptionality()))
            }
            returns.isTuple = true
        }
        return returns
    }

    /// Reads the `?` after a returned event (or after the parenthesised list).
    private mutating func parseReturnOptionality() -> Bool {
        guard current.kind == .question else { return false }
        advance()
        if current.kind == .question {
            error("'?' is repeated; an event is marked optional once", at: current)
            while current.kind == .question { advance() }
        }
        return true
    }

    // MARK: - Fields and types

    private mutating func parseField(role: String) -> FieldSyntax {
        let nameToken = advance()
        var field = FieldSyntax(name: name(nameToken), type: nil)
        if current.kind == .colon {
            advance()
        } else {
            error("expected ':' and a type after \(role) '\(nameToken.text)', found \(found(current))", at: current)
            // `amount Int` is most likely a forgotten colon: read the type anyway.
            guard (current.kind == .word || current.kind == .leftBracket) && !current.startsLine else {
                if !current.startsLine && ![.rightBrace, .rightParen, .comma].contains(current.kind) {
                    skipRestOfLine(stoppingAt: [.rightBrace, .rightParen, .comma])
                }
                return field
            }
        }
        field.type = parseType()
        if field.type == nil && !current.startsLine && ![.rightBrace, .rightParen, .comma, .end].contains(current.kind) {
            skipRestOfLine(stoppingAt: [.rightBrace, .rightParen, .comma])
        }
        return field
    }

    /// Parses one type; for ``TypeReference/init(_:)``.
    mutating func parseTypeForReuse() -> TypeSyntax? { parseType() }

    /// Whether every token has been read.
    var isAtEnd: Bool { atEnd }

    /// Parses `[`* Name `?`* (`]` `?`*)* without recursion.
    private mutating func parseType() -> TypeSyntax? {
        let first = current
        var opens: [Token] = []
        while current.kind == .leftBracket { opens.append(advance()) }
        guard current.kind == .word else {
            error("expected a type such as Int, [String] or Address?, found \(found(current))", at: current)
            return nil
        }
        let baseToken = advance()
        let tooDeep = opens.count > Schema.maximumTypeNesting
        var reference = Parser.reference(named: baseToken.text)
        var last = baseToken
        if parseTypeOptionality(&last) { reference = .optional(reference) }
        for open in opens.reversed() {
            guard current.kind == .rightBracket else {
                error(
                    "expected ']' to close the array type, found \(found(current))", at: current,
                    notes: [.init("'[' opened here", at: location(of: open))])
                return nil
            }
            last = advance()
            if !tooDeep { reference = .array(reference) }
            if parseTypeOptionality(&last) && !tooDeep { reference = .optional(reference) }
        }
        var span = location(of: first)
        if last.line == first.line { span.length = last.column + last.length - first.column }
        if tooDeep {
            diagnostics.append(
                .error(
                    .tooDeeplyNested,
                    "type nests \(opens.count) arrays deep; at most \(Schema.maximumTypeNesting) levels are allowed",
                    at: span))
            return nil
        }
        return TypeSyntax(reference: reference, base: name(baseToken), location: span)
    }

    /// Reads the `?` after a type; a second `?` is reported, as `T??` means nothing more
    /// than `T?` in JSON.
    private mutating func parseTypeOptionality(_ last: inout Token) -> Bool {
        guard current.kind == .question else { return false }
        last = advance()
        if current.kind == .question {
            error("'?' is repeated; a type is optional once (null and absent mean the same)", at: current)
            while current.kind == .question { last = advance() }
        }
        return true
    }

    /// The reference a base name denotes before validation: a scalar or a custom name.
    static func reference(named name: String) -> TypeReference {
        if let scalar = Scalar(rawValue: name) { return .scalar(scalar) }
        return .custom(name)
    }
}
