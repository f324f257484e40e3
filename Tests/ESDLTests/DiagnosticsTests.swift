import ESDL
import Testing

/// The diagnostics of `text` parsed as `test.esdl`, as one-line descriptions
/// (`test.esdl:line:column: error: message`), which pins message, line and column at once.
private func diagnostics(_ text: String) -> [String] {
    Schema.analyze(text, file: "test.esdl").diagnostics.map(\.description)
}

private func codes(_ text: String) -> [Diagnostic.Code] {
    Schema.analyze(text, file: "test.esdl").diagnostics.map(\.code)
}

/// A valid header to put in front of a snippet under test.
private let header = """
    version = "0.1.0"
    aggregate A { go() -> Went }
    event Went {}

    """

@Suite("Diagnostics: each mistake is reported with its position and what was expected")
struct DiagnosticsTests {
    // MARK: Version

    @Test("a missing version is reported at the top of the file")
    func missingVersion() {
        #expect(
            diagnostics("aggregate A { go() -> E }\nevent E {}") == [
                #"test.esdl:1:1: error: missing version; expected a line such as version = "0.1.0" at the top of the file"#
            ])
        #expect(codes("aggregate A { go() -> E }\nevent E {}") == [.missingVersion])
    }

    @Test("a repeated version is reported at the second one, with a note at the first")
    func repeatedVersion() throws {
        let text = "version = \"0.1.0\"\nversion = \"0.2.0\"\naggregate A { go() -> E }\nevent E {}"
        #expect(
            diagnostics(text) == [
                #"test.esdl:2:1: error: version is set more than once; expected a single version = "…" line"#
            ])
        let note = try #require(Schema.analyze(text, file: "test.esdl").diagnostics.first?.notes.first)
        #expect(note.message == "version first set here")
        #expect((note.location.line, note.location.column) == (1, 1))
    }

    @Test(
        "an invalid semantic version points at the text inside the quotes",
        arguments: [
            ("0.1", "it has 2 dot-separated parts, not three"),
            ("1.02.0", "'02' has a leading zero"),
            ("v1.0.0", "'v1' is not a number"),
            ("1.0.0-", "a pre-release identifier is empty"),
            ("", "the version is empty"),
        ])
    func invalidVersion(version: String, reason: String) {
        let text = "version = \"\(version)\"\naggregate A { go() -> E }\nevent E {}"
        #expect(
            diagnostics(text) == [
                "test.esdl:1:12: error: invalid version '\(version)': \(reason); expected a semantic version MAJOR.MINOR.PATCH such as \"0.1.0\""
            ])
    }

    @Test("a version without quotes says to quote it")
    func unquotedVersion() {
        #expect(
            diagnostics("version = 0.1.0\naggregate A { go() -> E }\nevent E {}") == [
                #"test.esdl:1:11: error: expected the version in double quotes, as in version = "0.1.0", found '0.1.0'"#
            ])
    }

    // MARK: Aggregates

    @Test("a file without an aggregate is reported")
    func missingAggregate() {
        #expect(
            diagnostics("version = \"0.1.0\"\nevent E {}") == [
                "test.esdl:1:1: error: missing aggregate; expected one definition such as 'aggregate BankAccount { … }'"
            ])
    }

    @Test("each aggregate after the first is reported")
    func severalAggregates() {
        let text = header + "aggregate B { go() -> Went }\naggregate C {}"
        #expect(
            diagnostics(text) == [
                "test.esdl:4:11: error: a file defines exactly one aggregate, but this is a second; expected only 'A'",
                "test.esdl:5:11: error: a file defines exactly one aggregate, but this is a second; expected only 'A'",
            ])
        #expect(codes(text) == [.repeatedAggregate, .repeatedAggregate])
    }

    @Test("an aggregate named like an event is reported")
    func aggregateNamedLikeEvent() {
        let text = "version = \"0.1.0\"\naggregate Went { go() -> Went }\nevent Went {}"
        #expect(
            diagnostics(text) == [
                "test.esdl:2:11: error: aggregate 'Went' has the same name as event 'Went'; expected distinct names"
            ])
    }

    @Test("an aggregate without commands is only a warning")
    func emptyAggregate() {
        #expect(
            diagnostics("version = \"0.1.0\"\naggregate A {}") == [
                "test.esdl:2:11: warning: aggregate 'A' has no commands; expected at least one such as 'deposit_funds(amount: Int) -> DepositedFunds'"
            ])
    }

    // MARK: Types

    @Test("an unknown type is reported at the type name, with a suggestion")
    func unknownType() throws {
        let text = """
            version = "0.1.0"
            aggregate A {
              deposit_funds(amount: Integer) -> Went
            }
            event Went { at: Tme }
            type Time { seconds: Long }
            """
        #expect(
            diagnostics(text) == [
                "test.esdl:3:25: error: unknown type 'Integer'; expected one of String, Int, Long, Float, Double, Bool, Bytes or a type defined in this file",
                "test.esdl:5:18: error: unknown type 'Tme'; expected one of String, Int, Long, Float, Double, Bool, Bytes or a type defined in this file",
            ])
        let all = Schema.analyze(text, file: "test.esdl").diagnostics
        #expect(all.map { $0.notes.map(\.message) } == [["did you mean 'Int'?"], ["did you mean 'Time'?"]])
        #expect(all[0].location.length == 7)
    }

    @Test("a lowercase scalar is suggested in its proper case")
    func lowercaseScalar() throws {
        let diagnostic = try #require(Schema.analyze(header + "type T { s: [string?] }", file: "t").diagnostics.first)
        #expect(diagnostic.code == .unknownType)
        #expect(diagnostic.notes.first?.message == "did you mean 'String'?")
        #expect((diagnostic.location.line, diagnostic.location.column) == (4, 14))
    }

    @Test("an event used as a field type is reported")
    func eventAsFieldType() {
        #expect(
            diagnostics(header + "type T { e: [Went]? }") == [
                "test.esdl:4:14: error: 'Went' is an event and cannot be the type of a field; expected a scalar or a type defined with 'type'"
            ])
    }

    @Test("a type that contains itself through required fields is reported once per cycle")
    func recursiveTypes() throws {
        let text =
            header + """
                type Node { value: Int, next: Node }
                type P { q: Q }
                type Q { r: R }
                type R { p: P }
                type Fine { next: Fine?, children: [Fine] }
                """
        #expect(
            diagnostics(text) == [
                "test.esdl:4:6: error: type 'Node' contains itself through required fields (Node.next → Node), so no value of it can be finite; expected one of these fields to be optional or an array",
                "test.esdl:5:6: error: type 'P' contains itself through required fields (P.q → Q.r → R.p → P), so no value of it can be finite; expected one of these fields to be optional or an array",
            ])
        let cycle = try #require(Schema.analyze(text, file: "test.esdl").diagnostics.last)
        #expect(cycle.notes.map(\.message) == ["'P.q' is a required Q", "'Q.r' is a required R", "'R.p' is a required P"])
        #expect(cycle.notes.map(\.location.line) == [5, 6, 7])
    }

    @Test("nesting arrays deeper than the limit is reported")
    func tooDeep() {
        let type = String(repeating: "[", count: 40) + "Int" + String(repeating: "]", count: 40)
        #expect(
            diagnostics(header + "type T { x: \(type) }") == [
                "test.esdl:4:13: error: type nests 40 arrays deep; at most 32 levels are allowed"
            ])
    }

    // MARK: Duplicates and names

    @Test("duplicate commands, events, types, fields and parameters are each reported at the second")
    func duplicates() {
        let text = """
            version = "0.1.0"
            aggregate A {
              go(x: Int, x: Long) -> Went
              go() -> Went
            }
            event Went { a: Int, a: Int }
            event Went {}
            type T { b: Bool }
            type T { b: Bool, b: Bool }
            """
        #expect(
            diagnostics(text) == [
                "test.esdl:3:14: error: parameter 'x' of command 'go' is defined more than once",
                "test.esdl:4:3: error: command 'go' is defined more than once",
                "test.esdl:6:22: error: field 'a' of event 'Went' is defined more than once",
                "test.esdl:7:7: error: event 'Went' is defined more than once",
                "test.esdl:9:6: error: type 'T' is defined more than once",
                "test.esdl:9:19: error: field 'b' of type 'T' is defined more than once",
            ])
        #expect(
            codes(text) == [
                .duplicateParameter, .duplicateCommand, .duplicateField, .duplicateEvent, .duplicateType, .duplicateField,
            ])
    }

    @Test("names that are not identifiers are reported with a repair when there is one")
    func invalidNames() throws {
        let text = header + "type T { first-name: String, 1st: Int, caf\u{E9}: Bool }"
        #expect(
            diagnostics(text) == [
                "test.esdl:4:10: error: 'first-name' is not a valid field name: '-' is not allowed in names; expected a letter or '_' followed by letters, digits or '_'",
                "test.esdl:4:30: error: '1st' is not a valid field name: a name cannot start with a digit; expected a letter or '_' followed by letters, digits or '_'",
                "test.esdl:4:40: error: 'caf\u{E9}' is not a valid field name: a name uses only ASCII letters, digits and '_', and does not start with a digit; expected a letter or '_' followed by letters, digits or '_'",
            ])
        let notes = Schema.analyze(text, file: "test.esdl").diagnostics.map { $0.notes.map(\.message) }
        #expect(notes == [["did you mean 'first_name'?"], ["did you mean '_1st'?"], []])
    }

    @Test("an aggregate name longer than 64 characters is reported; 64 are fine")
    func longAggregateName() {
        let longest = "A" + String(repeating: "b", count: Schema.maximumAggregateNameLength - 1)
        let source = { (name: String) in "version = \"0.1.0\"\naggregate \(name) { go() -> Went }\nevent Went {}\n" }
        #expect(diagnostics(source(longest)).isEmpty)
        #expect(
            diagnostics(source(longest + "c")) == [
                "test.esdl:2:11: error: the aggregate name '\(longest.prefix(40))…' is 65 characters long; aggregate names have at most 64"
            ])
    }

    @Test("an event and a type with the same name clash, as does a definition named like a scalar")
    func nameClashes() {
        let text = header + "type Went { x: Int }\ntype Bytes {}"
        #expect(
            diagnostics(text) == [
                "test.esdl:4:6: error: type 'Went' has the same name as event 'Went'; events and types need distinct names",
                "test.esdl:5:6: error: 'Bytes' is a built-in type; expected another name for the type",
            ])
    }

    // MARK: Returns

    @Test("a command returning an undefined event is reported with the events that exist")
    func unknownEvent() throws {
        let text = """
            version = "0.1.0"
            aggregate A {
              deposit(amount: Int) -> Deposit
            }
            event Deposited { amount: Int }
            event Withdrawn { amount: Int }
            """
        #expect(
            diagnostics(text) == [
                "test.esdl:3:27: error: unknown event 'Deposit' returned by 'deposit'; expected one of the events defined in this file: Deposited or Withdrawn"
            ])
        #expect(Schema.analyze(text).diagnostics.first?.notes.first?.message == "did you mean 'Deposited'?")
    }

    @Test("a command returning a type, or the same event twice, is reported")
    func badReturns() {
        let text = header.replacingOccurrences(of: "go() -> Went", with: "go() -> (Went | T | Went)") + "type T {}"
        #expect(
            diagnostics(text) == [
                "test.esdl:2:31: error: command 'go' returns 'T', which is a type, not an event; expected an event defined with 'event'",
                "test.esdl:2:35: error: command 'go' lists event 'Went' more than once",
            ])
    }

    // MARK: Syntax

    @Test(
        "syntax errors say what was found and what was expected",
        arguments: [
            ("type T { x Int }", "test.esdl:4:12: error: expected ':' and a type after field 'x', found 'Int'"),
            ("type T { x: }", "test.esdl:4:13: error: expected a type such as Int, [String] or Address?, found '}'"),
            ("type T { x: Int?? }", "test.esdl:4:17: error: '?' is repeated; a type is optional once (null and absent mean the same)"),
            ("type T { x: [Int }", "test.esdl:4:18: error: expected ']' to close the array type, found '}'"),
            (
                "type T { x: Int; y: Int }",
                "test.esdl:4:16: error: unexpected character ';'; fields and parameters are separated by ',' or a new line"
            ),
            ("type T { x: Int! }", "test.esdl:4:16: error: unexpected character '!'; fields are required unless marked optional with '?'"),
            ("type T { , }", "test.esdl:4:10: error: expected a field name, found ','"),
            ("type { x: Int }", "test.esdl:4:6: error: expected the type's name after 'type', found '{'"),
            ("type T x: Int", "test.esdl:4:8: error: expected '{' after 'type T', found 'x'"),
            ("type T { x: Int", "test.esdl:4:16: error: expected '}' to close type 'T', found end of file"),
            ("evnt E {}", "test.esdl:4:1: error: expected 'version', 'aggregate', 'event' or 'type' at the top level, found 'evnt'"),
            ("}", "test.esdl:4:1: error: expected 'version', 'aggregate', 'event' or 'type' at the top level, found '}'"),
            ("/* never closed", "test.esdl:4:1: error: unterminated comment; expected '*/' before the end of the file"),
        ])
    func syntaxErrors(snippet: String, expected: String) {
        let found = diagnostics(header + snippet)
        #expect(found.first == expected, "all: \(found)")
    }

    @Test(
        "command syntax errors say what was found and what was expected",
        arguments: [
            ("go(x: Int) Went", "test.esdl:2:26: error: expected '->' and the event that 'go' returns, found 'Went'"),
            ("go(x: Int -> Went", "test.esdl:2:25: error: expected ')' to close the parameters of 'go', found '->'"),
            ("go -> Went", "test.esdl:2:18: error: expected '(' and the parameters after command 'go', found '->'"),
            ("go() => Went", "test.esdl:2:20: error: expected '->' before the returned event, found '=>'"),
            ("go() -> Went | E", "test.esdl:2:28: error: several events must be written as a tuple in parentheses, as in -> (Went | …)"),
            ("go() -> (Went E)", "test.esdl:2:29: error: expected '|' or ')' after 'Went', found 'E'"),
            ("go() ->", "test.esdl:2:23: error: expected the event that 'go' returns after '->', found '}'"),
            ("go() -> Went??", "test.esdl:2:28: error: '?' is repeated; an event is marked optional once"),
            (
                "(x: Int)",
                "test.esdl:2:15: error: expected a command such as 'deposit_funds(amount: Int) -> DepositedFunds' or '}', found '('"
            ),
        ])
    func commandSyntaxErrors(command: String, expected: String) {
        let text = "version = \"0.1.0\"\naggregate A { \(command) }\nevent Went {}\nevent E {}"
        let found = diagnostics(text)
        #expect(found.first == expected, "all: \(found)")
    }

    @Test("an unterminated string is reported at its opening quote")
    func unterminatedString() {
        let found = diagnostics("version = \"0.1.0\naggregate A { go() -> E }\nevent E {}")
        #expect(found == [#"test.esdl:1:11: error: unterminated string; expected '"' before the end of the line"#])
    }

    @Test("a missing closing brace is reported before the next definition, with where the block opened")
    func missingBrace() throws {
        let text = """
            version = "0.1.0"
            aggregate A {
              go() -> Went
            event Went {
              at: Long
            }
            """
        let all = Schema.analyze(text, file: "test.esdl").diagnostics
        #expect(all.map(\.description) == ["test.esdl:4:1: error: expected '}' to close aggregate 'A', found 'event'"])
        #expect(all.first?.notes.map(\.message) == ["'{' opened here"])
        #expect(all.first?.notes.first?.location.line == 2)
    }

    @Test("several syntax errors are all reported in one run, each once")
    func recovery() {
        let text = """
            version = "0.1.0"
            aggregate A {
              go(amount Int) -> Went
              stop(x: Int?) Stopped
              run(x: [Int) -> Went
            }
            event Went { a: Int; b: Long }
            event Stopped {
              a: Int @
              b: Strin
            }
            """
        #expect(
            diagnostics(text) == [
                "test.esdl:3:13: error: expected ':' and a type after parameter 'amount', found 'Int'",
                "test.esdl:4:17: error: expected '->' and the event that 'stop' returns, found 'Stopped'",
                "test.esdl:5:14: error: expected ']' to close the array type, found ')'",
                "test.esdl:7:20: error: unexpected character ';'; fields and parameters are separated by ',' or a new line",
                "test.esdl:9:10: error: unexpected character '@'",
                "test.esdl:10:6: error: unknown type 'Strin'; expected one of String, Int, Long, Float, Double, Bool, Bytes or a type defined in this file",
            ])
    }

    @Test("semantic errors are reported alongside syntax errors")
    func mixed() {
        let found = codes(
            """
            version = "1"
            aggregate A { go(x Int, y: Nope) -> Missing }
            """)
        #expect(found == [.invalidVersion, .syntax, .unknownType, .unknownEvent])
    }

    @Test("after the maximum number of diagnostics the rest are summarised in one")
    func tooMany() throws {
        let text = header + String(repeating: "event Went {}\n", count: 300)
        let all = Schema.analyze(text, file: "test.esdl").diagnostics
        #expect(all.count == Schema.maximumDiagnostics + 1)
        let last = try #require(all.last)
        #expect(last.code == .tooManyErrors)
        #expect(last.description == "test.esdl:204:7: error: too many problems: stopped after 200, 100 more not shown; fix these first")
    }

    @Test("binary garbage yields a bounded number of diagnostics")
    func garbage() {
        let text = String(decoding: (0..<2000).map { UInt8(truncatingIfNeeded: $0 &* 37) }, as: UTF8.self)
        let all = Schema.analyze(text).diagnostics
        #expect(!all.isEmpty)
        #expect(all.count < 200)
    }
}
