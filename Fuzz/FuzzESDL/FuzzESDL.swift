import ESDL
// libFuzzer entry for the ESDL lexer, parser and validator (docs/fuzzing.md).
//
// Asserts, for any bytes (decoded as UTF-8, invalid sequences replaced): analysis returns
// (no trap, no hang); every diagnostic and note points inside the text (line 1...lines,
// column 1...line length + 1); the count stays within the cap; rendering the diagnostics
// with source excerpts works; and an accepted schema's canonical text parses back to an
// equal schema whose canonical text is the same.
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let analysis = Schema.analyze(text, file: "fuzz.esdl")
    require(analysis.diagnostics.count <= Schema.maximumDiagnostics + 1, "\(analysis.diagnostics.count) diagnostics")
    let lines = lineLengths(text)
    for diagnostic in analysis.diagnostics {
        check(diagnostic.location, lines, what: diagnostic.description)
        for note in diagnostic.notes { check(note.location, lines, what: "note '\(note.message)' of \(diagnostic)") }
        require(!diagnostic.message.isEmpty, "empty message at \(diagnostic.location)")
    }
    _ = analysis.error.description
    _ = analysis.error.rendered(colored: true)
    if let schema = analysis.schema {
        require(!analysis.diagnostics.contains { $0.severity == .error }, "a schema despite errors")
        let canonical = schema.canonicalText
        do {
            let again = try Schema.parse(canonical, file: "canonical.esdl")
            require(again == schema, "canonical text parses to a different schema:\n\(canonical)")
            require(again.canonicalText == canonical, "canonical text is not stable:\n\(canonical)")
        } catch {
            fatalError("canonical text does not parse: \(error)\n\(canonical)")
        }
    } else {
        require(analysis.diagnostics.contains { $0.severity == .error }, "no schema and no error")
    }
    return 0
}

/// The length in Unicode scalars of each line, split as the lexer does: at `\n`, and at a
/// `\r` not followed by `\n` (the `\r` of `\r\n` counts as a column).
private func lineLengths(_ text: String) -> [Int] {
    var lengths = [0]
    let scalars = Array(text.unicodeScalars)
    for (index, scalar) in scalars.enumerated() {
        if scalar == "\n" || (scalar == "\r" && (index + 1 == scalars.count || scalars[index + 1] != "\n")) {
            lengths.append(0)
        } else {
            lengths[lengths.count - 1] += 1
        }
    }
    return lengths
}

private func check(_ location: SourceLocation, _ lines: [Int], what: String) {
    require(location.file == "fuzz.esdl", "wrong file in \(what)")
    require(location.line >= 1 && location.line <= lines.count, "line \(location.line) of \(lines.count) in \(what)")
    require(
        location.column >= 1 && location.column <= lines[location.line - 1] + 1,
        "column \(location.column) on a line of \(lines[location.line - 1]) in \(what)")
    require(location.length >= 0, "negative length in \(what)")
}

// SwiftPM links executables with `main` renamed to `<module>_main`; hand it to libFuzzer.
@_cdecl("FuzzESDL_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
