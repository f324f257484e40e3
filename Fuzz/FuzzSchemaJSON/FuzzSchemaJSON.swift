import ESDL
// libFuzzer entry for reading a schema from its stored JSON form (docs/fuzzing.md).
//
// Asserts, for any bytes (decoded as UTF-8, invalid sequences replaced): `Schema(jsonText:)`
// returns or throws `ESDLError`; every diagnostic points inside the text it names (the JSON,
// or the canonical ESDL it was checked as), line by line as the renderer splits them; the
// error renders; and an accepted schema comes back equal from its JSON text and from its
// canonical ESDL text.
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let schema: Schema
    do {
        schema = try Schema(jsonText: text, file: "fuzz.json")
    } catch {
        require(!error.diagnostics.isEmpty, "an error without diagnostics")
        if let source = error.source {
            let lines = lineLengths(source)
            for diagnostic in error.diagnostics {
                check(diagnostic.location, lines, what: diagnostic.description)
                for note in diagnostic.notes { check(note.location, lines, what: "note '\(note.message)' of \(diagnostic)") }
            }
        }
        _ = error.rendered(colored: true)
        return 0
    }
    do {
        let fromJSON = try Schema(jsonText: schema.jsonText, file: "again.json")
        require(fromJSON == schema, "the JSON text reads back as a different schema: \(schema.jsonText)")
        let fromESDL = try Schema.parse(schema.canonicalText, file: "canonical.esdl")
        require(fromESDL == schema, "the canonical text reads back as a different schema:\n\(schema.canonicalText)")
    } catch {
        fatalError("an accepted schema does not read back: \(error)\n\(schema.jsonText)")
    }
    return 0
}

/// The length in Unicode scalars of each line, split as diagnostics are rendered: at `\n`,
/// `\r\n` and a lone `\r` (the `\r` of `\r\n` counts as a column, as the ESDL lexer has it).
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
    require(location.line >= 1 && location.line <= lines.count, "line \(location.line) of \(lines.count) in \(what)")
    require(
        location.column >= 1 && location.column <= lines[location.line - 1] + 1,
        "column \(location.column) on a line of \(lines[location.line - 1]) in \(what)")
    require(location.length >= 0, "negative length in \(what)")
}

// SwiftPM links executables with `main` renamed to `<module>_main`; hand it to libFuzzer.
@_cdecl("FuzzSchemaJSON_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
