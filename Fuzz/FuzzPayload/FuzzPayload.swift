import ESDL
// libFuzzer entry for payload validation (docs/fuzzing.md).
//
// Input: one byte choosing a command or event of a fixed schema that uses every ESDL form
// (Examples/schemas/everything.esdl, plus an `echo` command to reach every scalar at the
// top level), then JSON text. Asserts: validation never traps; the allocation-free fast
// path and the collecting path agree (valid exactly when no error is listed); every error
// has a code and a message; a payload that is not an object gets one error for the whole.
import FuzzSupport
import JSON

private let schema: Schema = {
    let source = """
        version = "0.1.0"
        aggregate Order {
          place(customer: String, quantity: Int, total_cents: Long, weight: Float, exchange_rate: Double,
                gift: Bool, signature: Bytes) -> Placed
          amend(note: String?, tags: [String], labels: [String?]?, matrix: [[Int]], lines: [OrderLine]) -> (Amended | Rejected)
          touch() -> Touched?
          ship(address: Address, tracking: String?) -> (Shipped | Rejected?)
          configure(default: Bool, class: String, self: Int, protocol: String?, type: String) -> Configured
          echo(a: Int?, b: Long?, c: Float?, d: Double?, e: Bytes?, f: [Bytes?]?, g: [[[Address?]]]?) -> Touched
        }
        event Placed { customer: String, quantity: Int, total_cents: Long, weight: Float, exchange_rate: Double, gift: Bool, signature: Bytes }
        event Amended { note: String?, tags: [String], labels: [String?]?, matrix: [[Int]], lines: [OrderLine] }
        event Touched {}
        event Shipped { address: Address, tracking: String?, history: [Address?]? }
        event Rejected { reason: String }
        event Configured { default: Bool, class: String, self: Int, protocol: String?, type: String }
        type Address { street: String, city: String, country: Country, location: Coordinates? }
        type Country { code: String, name: String }
        type Coordinates { latitude: Double, longitude: Double }
        type OrderLine { sku: String, quantity: Int, price: Long, options: [String]? }
        """
    do {
        return try Schema.parse(source, file: "fuzz-payload.esdl")
    } catch {
        fatalError("the fuzz schema does not parse: \(error)")
    }
}()

private let commands = schema.aggregate.commands.map(\.name)
private let events = schema.events.map(\.name)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let selector = Int(data[0])
    let payload: JSONValue
    do {
        payload = try JSONValue(parsing: UnsafeRawBufferPointer(start: data + 1, count: size - 1))
    } catch {
        return 0
    }
    let names = commands + events
    let index = selector % (names.count + 1)
    if index == names.count {
        // An unknown name: one error, never valid.
        require(schema.validateCommand("no_such", payload: payload).count == 1)
        require(!schema.isValidEvent("NoSuch", payload: payload))
        return 0
    }
    let errors: [PayloadError]
    let valid: Bool
    if index < commands.count {
        errors = schema.validateCommand(names[index], payload: payload)
        valid = schema.isValidCommand(names[index], payload: payload)
    } else {
        errors = schema.validateEvent(names[index], payload: payload)
        valid = schema.isValidEvent(names[index], payload: payload)
    }
    require(valid == errors.isEmpty, "\(names[index]): fast path says \(valid), collector found \(errors) for \(payload.jsonText)")
    if payload.objectValue == nil {
        require(errors.count == 1 && errors[0].path.isEmpty, "non-object payload: \(errors)")
    }
    for error in errors {
        require(!error.message.isEmpty && !error.code.rawValue.isEmpty, "empty error \(error)")
        _ = error.description
    }
    return 0
}

// SwiftPM links executables with `main` renamed to `<module>_main`; hand it to libFuzzer.
@_cdecl("FuzzPayload_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
