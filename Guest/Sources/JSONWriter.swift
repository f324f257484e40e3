@_extern(c, "thalo_realloc") func thalo_realloc(_ pointer: UnsafeMutableRawPointer?, _ size: Int) -> UnsafeMutableRawPointer?
@_extern(c, "thalo_free") func thalo_free(_ pointer: UnsafeMutableRawPointer?)

/// Writes UTF-8 JSON text into a growable buffer, byte by byte.
///
/// Generated code writes an event like this:
///
/// ```swift
/// writer.write("{\"amount\":")
/// writer.int(amount)
/// writer.write("}")
/// ```
///
/// The writer owns its buffer through a raw pointer: it is not freed automatically.
/// Call ``release()`` when done with a writer you created (the SDK keeps one for
/// results and reuses it for every call).
public struct JSONWriter {
    @usableFromInline var base: UnsafeMutablePointer<UInt8>?
    /// Number of bytes written.
    public var count: Int = 0
    @usableFromInline var capacity: Int = 0

    /// An empty writer (no memory until the first write).
    public init() {}

    /// The written bytes, valid until the next write or ``release()``.
    public var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// A copy of the written bytes.
    public var bytes: [UInt8] { Array(buffer) }

    /// Forgets what was written and keeps the memory.
    public mutating func reset() { count = 0 }

    /// Frees the memory.
    public mutating func release() {
        thalo_free(base)
        base = nil
        count = 0
        capacity = 0
    }

    @inline(__always)
    @usableFromInline mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(count + extra) }
    }

    @usableFromInline mutating func grow(_ needed: Int) {
        var newCapacity = capacity < 256 ? 256 : capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        guard let grown = thalo_realloc(base, newCapacity) else { fatalError("out of memory") }
        base = grown.assumingMemoryBound(to: UInt8.self)
        capacity = newCapacity
    }

    // MARK: Raw output

    /// Appends one byte.
    @inline(__always)
    public mutating func write(_ byte: UInt8) {
        reserve(1)
        base![count] = byte
        count += 1
    }

    /// Appends literal text as is (no escaping): punctuation and keys in generated code.
    public mutating func write(_ literal: StaticString) {
        write(raw: UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Appends raw bytes as is.
    public mutating func write(raw: UnsafeRawBufferPointer) {
        guard raw.count > 0 else { return }
        reserve(raw.count)
        (base! + count).update(from: raw.baseAddress!.assumingMemoryBound(to: UInt8.self), count: raw.count)
        count += raw.count
    }

    // MARK: Values

    /// Appends `null`.
    public mutating func null() { write("null") }

    /// Appends `true` or `false`.
    public mutating func bool(_ value: Bool) { write(value ? "true" : "false") }

    /// Appends a 32-bit integer.
    public mutating func int(_ value: Int32) { int(Int64(value)) }

    /// Appends a 64-bit integer.
    public mutating func int(_ value: Int64) {
        reserve(20)
        var magnitude = value.magnitude
        if value < 0 {
            base![count] = UInt8(ascii: "-")
            count += 1
        }
        var digits = 1
        var probe = magnitude
        while probe >= 10 {
            probe /= 10
            digits += 1
        }
        var position = count + digits - 1
        repeat {
            base![position] = UInt8(48 + magnitude % 10)
            magnitude /= 10
            position -= 1
        } while magnitude > 0
        count += digits
    }

    /// Appends a double in its shortest round-trip form; NaN and infinities (which JSON
    /// cannot express) are written as `null`.
    public mutating func double(_ value: Double) {
        guard value.isFinite else { return null() }
        if value == value.rounded(.towardZero), value.magnitude < 1e15 {
            // Integral values: "3.0" rather than "3", so readers keep them as numbers with a fraction.
            int(Int64(value))
            write(".0")
            return
        }
        string(raw: value.description)
    }

    /// Appends a float in its shortest round-trip form (NaN and infinities as `null`).
    public mutating func float(_ value: Float) {
        guard value.isFinite else { return null() }
        if value == value.rounded(.towardZero), value.magnitude < 1e7 {
            int(Int64(value))
            write(".0")
            return
        }
        string(raw: value.description)
    }

    private mutating func string(raw text: String) {
        withUTF8(text) { write(raw: $0) }
    }

    /// Appends a JSON string with quotes and escapes.
    public mutating func string(_ value: String) {
        withUTF8(value) { string(utf8: $0) }
    }

    /// Appends UTF-8 bytes as a JSON string with quotes and escapes.
    public mutating func string(utf8 text: UnsafeRawBufferPointer) {
        reserve(text.count + 2)
        base![count] = UInt8(ascii: "\"")
        count += 1
        var runStart = 0
        var index = 0
        while index < text.count {
            let byte = text[index]
            if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                index += 1
                continue
            }
            write(raw: UnsafeRawBufferPointer(rebasing: text[runStart..<index]))
            switch byte {
            case UInt8(ascii: "\""): write("\\\"")
            case UInt8(ascii: "\\"): write("\\\\")
            case 0x0A: write("\\n")
            case 0x0D: write("\\r")
            case 0x09: write("\\t")
            default:
                write("\\u00")
                write(hexDigit(byte >> 4))
                write(hexDigit(byte & 0xF))
            }
            index += 1
            runStart = index
        }
        write(raw: UnsafeRawBufferPointer(rebasing: text[runStart..<index]))
        write(UInt8(ascii: "\""))
    }

    /// Appends bytes as a base64 JSON string (`Bytes` in ESDL).
    public mutating func bytes(_ value: [UInt8]) {
        write(UInt8(ascii: "\""))
        value.withUnsafeBytes { Base64.encode($0, into: &self) }
        write(UInt8(ascii: "\""))
    }

    /// Appends a JSON value.
    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null: null()
        case .bool(let flag): bool(flag)
        case .int(let number): int(number)
        case .double(let number): double(number)
        case .string(let text): string(text)
        case .array(let elements):
            write(UInt8(ascii: "["))
            var first = true
            for element in elements {
                if !first { write(UInt8(ascii: ",")) }
                first = false
                self.value(element)
            }
            write(UInt8(ascii: "]"))
        case .object(let members):
            write(UInt8(ascii: "{"))
            var first = true
            for (key, member) in members {
                if !first { write(UInt8(ascii: ",")) }
                first = false
                string(key)
                write(UInt8(ascii: ":"))
                self.value(member)
            }
            write(UInt8(ascii: "}"))
        }
    }
}

@inline(__always)
func hexDigit(_ nibble: UInt8) -> UInt8 {
    nibble < 10 ? 48 + nibble : 87 + nibble
}

/// Runs `body` on the UTF-8 bytes of a string without copying them.
///
/// Embedded Swift strings are always "fast UTF-8" (native or small), so contiguous storage
/// is always available. This avoids `String.withUTF8` and iterating `utf8`, whose paths
/// for foreign strings drag tens of kilobytes of UTF-16 index code into the module.
@inline(__always)
func withUTF8<Result>(_ string: String, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
    guard let result = string.utf8.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) else {
        fatalError("string without contiguous UTF-8")
    }
    return result
}

/// Whether two strings have the same UTF-8 bytes.
///
/// Use it instead of `==` for identifiers: `==` compares canonical equivalence, which in
/// Embedded Swift links the Unicode tables (~50 KB) and costs thousands of instructions.
public func utf8Equal(_ lhs: String, _ rhs: String) -> Bool {
    withUTF8(lhs) { left in
        withUTF8(rhs) { right in
            left.count == right.count && (left.count == 0 || memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0)
        }
    }
}

@_extern(c, "memcmp") func memcmp(_ lhs: UnsafeRawPointer, _ rhs: UnsafeRawPointer, _ count: Int) -> Int32
