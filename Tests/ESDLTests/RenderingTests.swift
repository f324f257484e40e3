import ESDL
import Testing

@Suite("Rendering diagnostics like a compiler")
struct RenderingTests {
    private let bank = Fixtures.bankAccount.replacingOccurrences(
        of: "deposit_funds(amount: Int)", with: "deposit_funds(amount: Integer)")

    @Test("an error shows the header, the source line and a caret under the offending text")
    func unknownTypeRendering() throws {
        let error = try #require(throws: ESDLError.self) { try Schema.parse(bank, file: "bank.esdl") }
        #expect(
            error.description == """
                bank.esdl:5:25: error: unknown type 'Integer'; expected one of String, Int, Long, Float, Double, Bool, Bytes or a type defined in this file
                  deposit_funds(amount: Integer) -> DepositedFunds
                                        ^~~~~~~
                bank.esdl:5:25: note: did you mean 'Int'?
                """)
    }

    @Test("a note elsewhere in the file gets its own excerpt")
    func noteWithExcerpt() throws {
        let text = """
            version = "0.1.0"
            aggregate A { go() -> E }
            event E {
              amount: Int
              amount: Long
            }
            """
        let error = try #require(throws: ESDLError.self) { try Schema.parse(text, file: "a.esdl") }
        #expect(
            error.description == """
                a.esdl:5:3: error: field 'amount' of event 'E' is defined more than once
                  amount: Long
                  ^~~~~~
                a.esdl:4:3: note: first defined here
                  amount: Int
                  ^~~~~~
                """)
    }

    @Test("all errors are rendered, in source order")
    func severalErrors() throws {
        let text = """
            version = "1.0"
            aggregate A { go(x: Strng) -> Gone }
            event Went {}
            """
        let error = try #require(throws: ESDLError.self) { try Schema.parse(text, file: "a.esdl") }
        #expect(error.diagnostics.count == 3)
        #expect(
            error.description == """
                a.esdl:1:12: error: invalid version '1.0': it has 2 dot-separated parts, not three; expected a semantic version MAJOR.MINOR.PATCH such as "0.1.0"
                version = "1.0"
                           ^~~
                a.esdl:2:21: error: unknown type 'Strng'; expected one of String, Int, Long, Float, Double, Bool, Bytes or a type defined in this file
                aggregate A { go(x: Strng) -> Gone }
                                    ^~~~~
                a.esdl:2:21: note: did you mean 'String'?
                a.esdl:2:31: error: unknown event 'Gone' returned by 'go'; expected Went, the only event defined in this file
                aggregate A { go(x: Strng) -> Gone }
                                              ^~~~
                """)
    }

    @Test("tabs in the source line are copied so that the caret lines up")
    func tabs() throws {
        let text = "version = \"0.1.0\"\naggregate A {\n\tgo(x:\tNope) -> E\n}\nevent E {}"
        let error = try #require(throws: ESDLError.self) { try Schema.parse(text, file: "t.esdl") }
        let lines = error.description.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[1] == "\tgo(x:\tNope) -> E")
        #expect(lines[2] == "\t     \t^~~~")
    }

    @Test("a point at the end of the file gets a single caret")
    func endOfFile() throws {
        let error = try #require(throws: ESDLError.self) {
            try Schema.parse("version = \"0.1.0\"\naggregate A { go() -> E }\nevent E { x: Int", file: "e.esdl")
        }
        #expect(
            error.description == """
                e.esdl:3:17: error: expected '}' to close event 'E', found end of file
                event E { x: Int
                                ^
                e.esdl:3:9: note: '{' opened here
                event E { x: Int
                        ^
                """)
    }

    @Test("a very long line is shown as a window around the column")
    func longLine() throws {
        let events = (0..<40).map { "event F\($0) {}" }.joined(separator: " ")
        let text = "version = \"0.1.0\" aggregate A { go() -> F0 } \(events) event G { x: Nope }"
        let error = try #require(throws: ESDLError.self) { try Schema.parse(text, file: "l.esdl") }
        let lines = error.description.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[1].hasPrefix("…"))
        #expect(lines[1].hasSuffix("event G { x: Nope }"))
        #expect(lines[1].count <= 162)
        let caret = try #require(lines[2].firstIndex(of: "^"))
        let column = lines[2].distance(from: lines[2].startIndex, to: caret)
        let nope = try #require(lines[1].range(of: "Nope"))
        #expect(column == lines[1].distance(from: lines[1].startIndex, to: nope.lowerBound))
        #expect(lines[2].hasSuffix("^~~~"))
    }

    @Test("colour adds ANSI escapes around the severity, message and caret")
    func colored() throws {
        let error = try #require(throws: ESDLError.self) { try Schema.parse("version = \"0.1.0\"", file: "c.esdl") }
        let colored = error.rendered(colored: true)
        #expect(
            colored
                == "\u{1B}[1mc.esdl:1:1: \u{1B}[1;31merror: \u{1B}[0m\u{1B}[1mmissing aggregate; expected one definition such as 'aggregate BankAccount { … }'\u{1B}[0m\nversion = \"0.1.0\"\n\u{1B}[1;32m^\u{1B}[0m"
        )
        #expect(error.rendered(colored: false) == error.description)
        #expect(!error.description.contains("\u{1B}"))
    }

    @Test("a diagnostic without a source prints only its header")
    func withoutSource() {
        let diagnostic = Diagnostic.error(
            .unknownType, "unknown type 'X'", at: SourceLocation(file: "f.esdl", line: 2, column: 3, length: 1))
        #expect(diagnostic.rendered(source: nil) == "f.esdl:2:3: error: unknown type 'X'")
        #expect(diagnostic.description == "f.esdl:2:3: error: unknown type 'X'")
    }

    @Test("an error without a file name leaves out the position")
    func withoutFile() throws {
        let error = try #require(throws: ESDLError.self) { try VersionRequirement(">=1.0 <2.0") }
        #expect(
            error.description == """
                error: invalid version requirement: expected ',' between comparators, found '<'
                >=1.0 <2.0
                      ^
                """)
    }
}
