import ESDL
import JSON
import TestSupport
import Testing

/// Feeds the parser inputs that no person would write, to show that it never crashes,
/// never hangs, and keeps its promises on whatever it accepts. Every input comes from a
/// fixed seed, so a failure names the seed and the iteration to reproduce it.
@Suite("Fuzzing the parser")
struct FuzzTests {
    /// Bytes and snippets that matter to the grammar, for insertion and token soup.
    private static let vocabulary: [String] = [
        "version", "aggregate", "event", "type", "=", "\"0.1.0\"", "\"", "{", "}", "(", ")", "[", "]", ":", ",", "?",
        "|", "->", "-", ">", "=>", "/*", "*/", "//", "\n", " ", "\t", "\r\n", "Int", "Long", "String", "Bytes", "Bool",
        "Float", "Double", "Name", "name", "x", "_", "1", "0.1", "é", "🙂", "\u{0}", "\u{FEFF}", ";", "@", "!", ".",
        "\\", "'", "deposit-funds", "E?", "[Int]", "[[", "]]",
    ]

    private static let seeds = Fixtures.seeds.map(\.text) + [Fixtures.everything]

    /// Parses one input and checks every invariant that must hold for any input.
    private static func check(_ text: String, _ context: @autoclosure () -> String) {
        // The parser's own CPU time on this thread: wall time on a machine busy with other
        // tests (and builds) would measure the machine.
        let start = threadCPUSeconds()
        let analysis = Schema.analyze(text, file: "fuzz.esdl")
        let elapsed = threadCPUSeconds() - start
        #expect(elapsed < 2, "slow input (\(elapsed) s of CPU): \(context())")

        let hasErrors = analysis.diagnostics.contains { $0.severity == .error }
        #expect(hasErrors == (analysis.schema == nil), "schema and errors disagree: \(context())")

        let lineCount = text.reduce(into: 1) { count, character in
            if character == "\n" || character == "\r\n" || character == "\r" { count += 1 }
        }
        for diagnostic in analysis.diagnostics {
            let location = diagnostic.location
            #expect(location.line >= 1 && location.line <= lineCount, "line out of range: \(diagnostic) in \(context())")
            #expect(location.column >= 1 && location.length >= 0, "bad column: \(diagnostic) in \(context())")
        }
        // Rendering must not trap on any location.
        _ = analysis.error.rendered(colored: true)

        if let schema = analysis.schema {
            let reparsed = Schema.analyze(schema.canonicalText).schema
            #expect(reparsed == schema, "canonical text does not round-trip: \(context())")
            #expect((try? Schema(jsonText: schema.jsonText)) == schema, "JSON does not round-trip: \(context())")
        }
    }

    @Test("20,000 mutated seed files never crash, hang or break the invariants", arguments: 0..<20)
    func mutatedSeeds(seed: UInt64) {
        var generator = SeededGenerator(seed: 0xF0CC_0000 + seed)
        for iteration in 0..<1_000 {
            var bytes = Array(Self.seeds.randomElement(using: &generator)!.utf8)
            let mutations = Int.random(in: 1...6, using: &generator)
            for _ in 0..<mutations {
                Self.mutate(&bytes, using: &generator)
            }
            let text = String(decoding: bytes, as: UTF8.self)
            Self.check(text, "seed \(seed), iteration \(iteration):\n\(text)")
        }
    }

    @Test("token soup never crashes or hangs", arguments: 0..<4)
    func tokenSoup(seed: UInt64) {
        var generator = SeededGenerator(seed: 0x50_0000 + seed)
        for iteration in 0..<500 {
            let count = Int.random(in: 0...200, using: &generator)
            let text = (0..<count).map { _ in Self.vocabulary.randomElement(using: &generator)! }
                .joined(separator: Bool.random(using: &generator) ? " " : "")
            Self.check(text, "seed \(seed), iteration \(iteration):\n\(text)")
        }
    }

    @Test("random bytes never crash or hang")
    func randomBytes() {
        var generator = SeededGenerator(seed: 0xB17E5)
        for iteration in 0..<500 {
            let bytes = (0..<Int.random(in: 0...400, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let text = String(decoding: bytes, as: UTF8.self)
            Self.check(text, "iteration \(iteration): \(bytes)")
        }
    }

    @Test(
        "deep nesting is rejected without exhausting the stack",
        arguments: [
            String(repeating: "[", count: 10_000),
            "version = \"0.1.0\"\naggregate A { go(x: " + String(repeating: "[", count: 10_000) + "Int"
                + String(repeating: "]", count: 10_000) + ") -> E }\nevent E {}",
            "version = \"0.1.0\"\naggregate A { go(x: " + String(repeating: "[", count: 10_000) + ") -> E }\nevent E {}",
            "version = \"0.1.0\"\ntype T { x: Int" + String(repeating: "?", count: 10_000) + " }",
            String(repeating: "{", count: 10_000) + String(repeating: "}", count: 10_000),
            String(repeating: "(", count: 10_000),
            "aggregate A { go" + String(repeating: "(", count: 10_000) + " }",
            String(repeating: "/*", count: 10_000),
            String(repeating: "type T { x: T }\n", count: 2_000),
            (0..<3_000).map { "type T\($0) { next: T\($0 + 1) }\n" }.joined() + "type T3000 { next: T0 }",
            String(repeating: "event ", count: 10_000),
            String(repeating: "\"", count: 10_001),
        ])
    func deepNesting(text: String) {
        Self.check(text, "deep input of \(text.utf8.count) bytes starting \(text.prefix(40))")
    }

    @Test("a long chain of required types is reported as one cycle")
    func longCycle() throws {
        let text =
            "version = \"0.1.0\"\naggregate A { go() -> E }\nevent E {}\n"
            + (0..<3_000).map { "type T\($0) { next: T\(($0 + 1) % 3_000) }\n" }.joined()
        let diagnostics = Schema.analyze(text).diagnostics
        #expect(diagnostics.map(\.code) == [.recursiveType])
        #expect(diagnostics.first?.notes.count == 3_000)
    }

    private static func mutate(_ bytes: inout [UInt8], using generator: inout SeededGenerator) {
        func position(_ inclusive: Bool = false) -> Int {
            Int.random(in: 0...(max(0, bytes.count - (inclusive ? 0 : 1))), using: &generator)
        }
        switch Int.random(in: 0..<8, using: &generator) {
        case 0 where !bytes.isEmpty:
            // Delete a short range.
            let start = position()
            let end = min(bytes.count, start + Int.random(in: 1...8, using: &generator))
            bytes.removeSubrange(start..<end)
        case 1:
            // Insert a random byte.
            bytes.insert(UInt8.random(in: 0...255, using: &generator), at: position(true))
        case 2:
            // Insert a grammar token.
            bytes.insert(contentsOf: Array(vocabulary.randomElement(using: &generator)!.utf8), at: position(true))
        case 3 where bytes.count > 1:
            // Swap two bytes.
            bytes.swapAt(position(), position())
        case 4 where !bytes.isEmpty:
            // Duplicate a range somewhere else.
            let start = position()
            let end = min(bytes.count, start + Int.random(in: 1...40, using: &generator))
            let slice = Array(bytes[start..<end])
            bytes.insert(contentsOf: slice, at: position(true))
        case 5:
            // Delete, duplicate or swap whole whitespace-separated tokens.
            var tokens = bytes.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false).map(Array.init)
            guard !tokens.isEmpty else { return }
            let index = Int.random(in: 0..<tokens.count, using: &generator)
            switch Int.random(in: 0..<3, using: &generator) {
            case 0: tokens.remove(at: index)
            case 1: tokens.insert(tokens[index], at: Int.random(in: 0...tokens.count, using: &generator))
            default: tokens.swapAt(index, Int.random(in: 0..<tokens.count, using: &generator))
            }
            bytes = Array(tokens.joined(separator: [UInt8(ascii: " ")]))
        case 6 where !bytes.isEmpty:
            // Flip one bit.
            let index = position()
            bytes[index] ^= 1 << UInt8.random(in: 0...7, using: &generator)
        default:
            // Truncate.
            bytes.removeSubrange(position(true)...)
        }
    }
}
