// libFuzzer entry for the JSON parser and writer (docs/fuzzing.md).
//
// Asserts, for any bytes: parsing either returns a value or throws `JSONError` with an
// offset inside the input; a parsed value written compactly and pretty parses back to an
// equal value, and writing that again gives the same text.
import FuzzSupport
import JSON

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let value: JSONValue
    do {
        value = try JSONValue(parsing: bytes)
    } catch {
        require(error.offset >= 0 && error.offset <= size, "error offset \(error.offset) outside 0...\(size)")
        return 0
    }
    let compact = value.jsonText
    let reparsed: JSONValue
    do {
        reparsed = try JSONValue(parsing: compact)
    } catch {
        fatalError("written JSON does not parse: \(error) in \(compact)")
    }
    require(reparsed == value, "round trip changed the value: \(compact) became \(reparsed.jsonText)")
    require(reparsed.jsonText == compact, "writing is not stable: \(compact) then \(reparsed.jsonText)")
    let pretty = value.prettyJSONText
    do {
        let fromPretty = try JSONValue(parsing: pretty)
        require(fromPretty == value, "pretty round trip changed the value: \(pretty)")
    } catch {
        fatalError("pretty JSON does not parse: \(error) in \(pretty)")
    }
    return 0
}

// SwiftPM links executables with `main` renamed to `<module>_main`; hand it to libFuzzer.
@_cdecl("FuzzJSON_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
