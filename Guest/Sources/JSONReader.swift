/// Why a JSON text could not be read: what was expected, where, and in which field.
public struct JSONError: Error {
    /// A readable description, e.g. `expected an integer at byte 11 (field "amount")`.
    public var message: String

    /// Creates an error with a message.
    public init(message: String) {
        self.message = message
    }

    /// A required field was absent.
    public static func missingField(_ name: StaticString) -> JSONError {
        var text = Text()
        text.append("missing field \"")
        text.append(name)
        text.append("\"")
        return JSONError(message: text.string)
    }
}

/// A forward-only reader over UTF-8 JSON text, working on bytes without building a tree.
///
/// Generated code reads an object like this:
///
/// ```swift
/// var reader = JSONReader(bytes)
/// try reader.beginObject()
/// while try reader.nextKey() {
///     if reader.key("amount") { amount = try reader.readInt32() }
///     else { try reader.skipValue() }
/// }
/// ```
///
/// Keys are compared as raw bytes, so a key written with escapes (`"\u0061mount"`) does
/// not match; ESDL field names are plain identifiers and nobody writes them that way.
public struct JSONReader {
    @usableFromInline let bytes: UnsafeRawBufferPointer
    @usableFromInline var index: Int = 0
    /// Whether the innermost open object or array has not produced a member yet.
    @usableFromInline var atFirstMember = false
    @usableFromInline var keyStart = 0
    @usableFromInline var keyCount = 0

    /// A reader at the start of `bytes`.
    public init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    // MARK: Structure

    /// Reads `{`.
    public mutating func beginObject() throws(JSONError) {
        try expect(UInt8(ascii: "{"), "an object")
        atFirstMember = true
    }

    /// Moves to the next member of the current object and reads its key and `:`;
    /// `false` (after reading `}`) when the object ends.
    public mutating func nextKey() throws(JSONError) -> Bool {
        skipWhitespace()
        guard index < bytes.count else { throw error("expected '}' or a key") }
        if bytes[index] == UInt8(ascii: "}") {
            index += 1
            atFirstMember = false
            return false
        }
        if atFirstMember {
            atFirstMember = false
        } else {
            guard bytes[index] == UInt8(ascii: ",") else { throw error("expected ',' or '}'") }
            index += 1
            skipWhitespace()
        }
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a key") }
        index += 1
        let start = index
        var position = index
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") { break }
            if byte == UInt8(ascii: "\\") { position += 1 }
            position += 1
        }
        index = position
        guard index < bytes.count else { throw error("unterminated key") }
        keyStart = start
        keyCount = index - start
        index += 1
        try expect(UInt8(ascii: ":"), "':'")
        return true
    }

    /// Whether the key just read by ``nextKey()`` is `name`.
    @inline(__always)
    public func key(_ name: StaticString) -> Bool {
        guard keyCount == name.utf8CodeUnitCount else { return false }
        return bytesEqual(bytes.baseAddress! + keyStart, name.utf8Start, keyCount)
    }

    /// The key just read by ``nextKey()``, as raw bytes (escapes not decoded).
    public var currentKey: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[keyStart..<keyStart + keyCount])
    }

    /// Reads `[`.
    public mutating func beginArray() throws(JSONError) {
        try expect(UInt8(ascii: "["), "an array")
        atFirstMember = true
    }

    /// Moves to the next element of the current array; `false` (after reading `]`) when
    /// the array ends.
    public mutating func nextElement() throws(JSONError) -> Bool {
        skipWhitespace()
        guard index < bytes.count else { throw error("expected ']' or a value") }
        if bytes[index] == UInt8(ascii: "]") {
            index += 1
            atFirstMember = false
            return false
        }
        if atFirstMember {
            atFirstMember = false
        } else {
            guard bytes[index] == UInt8(ascii: ",") else { throw error("expected ',' or ']'") }
            index += 1
        }
        return true
    }

    /// Positions the reader on the value of a top-level key of an object; `false` when
    /// the object has no such key.
    public mutating func seek(_ name: StaticString) throws(JSONError) -> Bool {
        try beginObject()
        while try nextKey() {
            if key(name) { return true }
            try skipValue()
        }
        return false
    }

    /// Checks that nothing but whitespace follows.
    public mutating func end() throws(JSONError) {
        skipWhitespace()
        guard index == bytes.count else { throw error("unexpected text after the value") }
    }

    // MARK: Values

    /// Reads `null` if it comes next and returns `true`; otherwise reads nothing.
    public mutating func readNull() throws(JSONError) -> Bool {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    /// Reads `true` or `false`.
    public mutating func readBool() throws(JSONError) -> Bool {
        skipWhitespace()
        guard index < bytes.count else { throw error("expected a boolean") }
        switch bytes[index] {
        case UInt8(ascii: "t"):
            try literal("true")
            return true
        case UInt8(ascii: "f"):
            try literal("false")
            return false
        default:
            throw error("expected a boolean")
        }
    }

    /// Reads an integer that fits in 32 bits.
    public mutating func readInt32() throws(JSONError) -> Int32 {
        let value = try readInt64()
        guard let narrow = Int32(exactly: value) else { throw error("integer out of range for Int") }
        return narrow
    }

    /// Reads an integer that fits in 64 bits.
    public mutating func readInt64() throws(JSONError) -> Int64 {
        skipWhitespace()
        var negative = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        guard index < bytes.count, isDigit(bytes[index]) else { throw error("expected an integer") }
        var magnitude: UInt64 = 0
        var position = index
        while position < bytes.count, isDigit(bytes[position]) {
            // Below 10^18 another digit cannot overflow; checking that is much cheaper
            // than a 128-bit multiplication with overflow report.
            if magnitude >= 1_000_000_000_000_000_000, magnitude > (UInt64.max - 9) / 10 {
                index = position
                throw error("integer out of range")
            }
            magnitude = magnitude &* 10 &+ UInt64(bytes[position] &- 48)
            position += 1
        }
        index = position
        if index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
                throw error("expected an integer, found a fraction")
            }
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { throw error("integer out of range") }
            return Int64(bitPattern: 0 &- magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { throw error("integer out of range") }
        return Int64(magnitude)
    }

    /// Reads a number as a `Double`, correctly rounded for up to 19 significant digits
    /// (more than any shortest round-trip form has); digits beyond the 19th are dropped.
    public mutating func readDouble() throws(JSONError) -> Double {
        skipWhitespace()
        var negative = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        var mantissa: UInt64 = 0
        var exponent = 0
        var digits = 0
        var significant = 0
        while index < bytes.count, isDigit(bytes[index]) {
            accumulate(bytes[index], into: &mantissa, significant: &significant, exponent: &exponent)
            digits += 1
            index += 1
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            while index < bytes.count, isDigit(bytes[index]) {
                accumulate(bytes[index], into: &mantissa, significant: &significant, exponent: &exponent)
                exponent -= 1
                digits += 1
                index += 1
            }
        }
        guard digits > 0 else { throw error("expected a number") }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            var exponentNegative = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
                exponentNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            guard index < bytes.count, isDigit(bytes[index]) else { throw error("expected an exponent") }
            var written = 0
            while index < bytes.count, isDigit(bytes[index]) {
                if written < 100_000 { written = written * 10 + Int(bytes[index] &- 48) }
                index += 1
            }
            exponent += exponentNegative ? -written : written
        }
        let value = scale(mantissa, byPowerOfTen: exponent)
        return negative ? -value : value
    }

    /// Reads a number as a `Float`.
    public mutating func readFloat() throws(JSONError) -> Float {
        Float(try readDouble())
    }

    /// Reads a string, decoding escapes.
    public mutating func readString() throws(JSONError) -> String {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a string") }
        index += 1
        let start = index
        var position = index
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                index = position + 1
                return makeString(UnsafeRawBufferPointer(rebasing: bytes[start..<position]))
            }
            if byte == UInt8(ascii: "\\") { break }
            position += 1
        }
        index = position
        // Escapes: decode into a buffer.
        var decoded: [UInt8] = []
        decoded.reserveCapacity(index - start + 16)
        decoded.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\"") {
                return decoded.withUnsafeBytes { makeString($0) }
            }
            guard byte == UInt8(ascii: "\\") else {
                decoded.append(byte)
                continue
            }
            guard index < bytes.count else { break }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(escape)
            case UInt8(ascii: "b"): decoded.append(0x08)
            case UInt8(ascii: "f"): decoded.append(0x0C)
            case UInt8(ascii: "n"): decoded.append(0x0A)
            case UInt8(ascii: "r"): decoded.append(0x0D)
            case UInt8(ascii: "t"): decoded.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try readHex4()
                if scalar >= 0xD800, scalar < 0xDC00 {
                    // A high surrogate must be followed by an escaped low surrogate.
                    guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                        bytes[index + 1] == UInt8(ascii: "u")
                    else { throw error("unpaired surrogate in string") }
                    index += 2
                    let low = try readHex4()
                    guard low >= 0xDC00, low < 0xE000 else { throw error("unpaired surrogate in string") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00, scalar < 0xE000 {
                    throw error("unpaired surrogate in string")
                }
                appendUTF8(scalar, to: &decoded)
            default:
                throw error("invalid escape in string")
            }
        }
        throw error("unterminated string")
    }

    /// Reads a base64 string (`Bytes` in ESDL).
    public mutating func readBytes() throws(JSONError) -> [UInt8] {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a base64 string") }
        index += 1
        let start = index
        while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\") { index += 1 }
        guard index < bytes.count else { throw error("unterminated string") }
        if bytes[index] == UInt8(ascii: "\\") {
            // Escaped text (some writers escape "/" as "\/"): decode the string first.
            index = start - 1
            let text = try readString()
            guard let decoded = withUTF8(text, { Base64.decode($0) }) else {
                index = start
                throw error("invalid base64")
            }
            return decoded
        }
        let text = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
        index += 1
        guard let decoded = Base64.decode(text) else {
            index = start
            throw error("invalid base64")
        }
        return decoded
    }

    /// Skips one value of any kind.
    public mutating func skipValue() throws(JSONError) {
        skipWhitespace()
        guard index < bytes.count else { throw error("expected a value") }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            try beginObject()
            while try nextKey() { try skipValue() }
        case UInt8(ascii: "["):
            try beginArray()
            while try nextElement() { try skipValue() }
        case UInt8(ascii: "\""):
            var position = index + 1
            while position < bytes.count, bytes[position] != UInt8(ascii: "\"") {
                position += bytes[position] == UInt8(ascii: "\\") ? 2 : 1
            }
            index = position
            guard index < bytes.count else { throw error("unterminated string") }
            index += 1
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default:
            try skipNumber()
        }
    }

    /// Skips a number without converting it (so that modules without `Float` or `Double`
    /// fields do not carry the float parser).
    mutating func skipNumber() throws(JSONError) {
        let start = index
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        let digitsStart = index
        while index < bytes.count {
            let byte = bytes[index]
            guard
                isDigit(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
                    || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")
            else { break }
            index += 1
        }
        guard index > digitsStart, isDigit(bytes[digitsStart]) else {
            index = start
            throw error("expected a value")
        }
    }

    // MARK: Helpers

    @inline(__always)
    @usableFromInline mutating func skipWhitespace() {
        // Loops work on a local index: stores through `self` cannot be kept in registers
        // (they might alias the bytes), and each one costs in the interpreter.
        var position = index
        while position < bytes.count {
            let byte = bytes[position]
            guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { break }
            position += 1
        }
        index = position
    }

    @usableFromInline mutating func expect(_ byte: UInt8, _ what: StaticString) throws(JSONError) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else {
            var text = Text()
            text.append("expected ")
            text.append(what)
            throw error(text)
        }
        index += 1
    }

    mutating func literal(_ word: StaticString) throws(JSONError) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count, bytesEqual(bytes.baseAddress! + index, word.utf8Start, count) else {
            var text = Text()
            text.append("expected ")
            text.append(word)
            throw error(text)
        }
        index += count
    }

    mutating func readHex4() throws(JSONError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("invalid \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte &- 48
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte &- 87
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte &- 55
            default: throw error("invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    func error(_ message: StaticString) -> JSONError {
        var text = Text()
        text.append(message)
        return error(text)
    }

    /// An error at the current position, naming the last key read.
    func error(_ message: Text) -> JSONError {
        var text = message
        text.append(" at byte ")
        text.append(Int64(index))
        if keyCount > 0 {
            text.append(" (field \"")
            text.append(UnsafeRawBufferPointer(rebasing: bytes[keyStart..<keyStart + keyCount]))
            text.append("\")")
        }
        return JSONError(message: text.string)
    }
}

@inline(__always)
func isDigit(_ byte: UInt8) -> Bool { byte &- 48 < 10 }

@inline(__always)
func accumulate(_ byte: UInt8, into mantissa: inout UInt64, significant: inout Int, exponent: inout Int) {
    if significant < 19 {
        mantissa = mantissa &* 10 &+ UInt64(byte &- 48)
        if mantissa != 0 { significant += 1 }
    } else {
        exponent += 1  // digits beyond 19 only scale the value
    }
}

private let exactPowersOfTen: [Double] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
]

/// `mantissa × 10^exponent`, correctly rounded (round half to even).
///
/// The common case (mantissa below 2^53, exponent within ±22) is exact in one operation
/// (Clinger's fast path). Otherwise an estimate is corrected by comparing the decimal value
/// with the midpoints between neighbouring doubles in exact big-integer arithmetic.
func scale(_ mantissa: UInt64, byPowerOfTen exponent: Int) -> Double {
    if mantissa == 0 { return 0 }
    if exponent == 0, mantissa < 1 << 53 { return Double(mantissa) }
    if mantissa < 1 << 53, exponent >= -22, exponent <= 22 {
        let value = Double(mantissa)
        return exponent > 0 ? value * exactPowersOfTen[exponent] : value / exactPowersOfTen[-exponent]
    }
    if exponent > 310 { return .infinity }
    if exponent < -343 - 20 { return 0 }
    var guess = estimate(mantissa, exponent)
    if guess.isInfinite { guess = .greatestFiniteMagnitude }
    // Move the guess until the decimal value lies between its two midpoints; a tie goes
    // to the even significand.
    for _ in 0..<64 {
        let isOdd = guess.significandBitPattern & 1 == 1
        let largest = guess == .greatestFiniteMagnitude
        let above = compareDecimal(mantissa, exponent, withMidpointOf: guess, largest ? nil : guess.nextUp)
        if above > 0 || (above == 0 && isOdd) {
            if largest { return .infinity }
            guess = guess.nextUp
            continue
        }
        if guess > 0 {
            let below = compareDecimal(mantissa, exponent, withMidpointOf: guess.nextDown, guess)
            if below < 0 || (below == 0 && isOdd) {
                guess = guess.nextDown
                continue
            }
        }
        return guess
    }
    return guess
}

/// A close estimate of `mantissa × 10^exponent` in floating point.
private func estimate(_ mantissa: UInt64, _ exponent: Int) -> Double {
    var value = Double(mantissa)
    var remaining = exponent
    while remaining > 22 {
        value *= 1e22
        remaining -= 22
    }
    while remaining < -22 {
        value /= 1e22
        remaining += 22
        if value == 0 { return .leastNonzeroMagnitude }
    }
    value = remaining >= 0 ? value * exactPowersOfTen[remaining] : value / exactPowersOfTen[-remaining]
    return value == 0 ? .leastNonzeroMagnitude : value
}

/// The exact binary form of a finite, non-negative double: `significand × 2^exponent`.
private func exactParts(_ value: Double) -> (UInt64, Int) {
    let bits = value.significandBitPattern
    let biased = Int(value.exponentBitPattern)
    if biased == 0 { return (bits, -1074) }
    return (bits | 1 << 52, biased - 1075)
}

/// Compares `mantissa × 10^exponent` with the midpoint of `low` and `high` (`high` nil:
/// the midpoint above the largest double); returns -1, 0 or 1.
private func compareDecimal(_ mantissa: UInt64, _ exponent: Int, withMidpointOf low: Double, _ high: Double?) -> Int {
    // Midpoint × 2 = low + high, as an integer times a power of two.
    let (lowSignificand, lowExponent) = exactParts(low)
    let (highSignificand, highExponent) = high.map(exactParts) ?? (1 << 53, 1024 - 53)
    let common = min(lowExponent, highExponent)
    var midpoint = BigInteger(lowSignificand)
    midpoint.shiftLeft(lowExponent - common)
    var upper = BigInteger(highSignificand)
    upper.shiftLeft(highExponent - common)
    midpoint.add(upper)
    // decimal vs midpoint × 2^(common - 1)
    var decimal = BigInteger(mantissa)
    if exponent > 0 { decimal.multiplyByPowerOfTen(exponent) } else { midpoint.multiplyByPowerOfTen(-exponent) }
    let binaryExponent = common - 1
    if binaryExponent > 0 { midpoint.shiftLeft(binaryExponent) } else { decimal.shiftLeft(-binaryExponent) }
    return decimal.compare(midpoint)
}

/// A minimal unsigned big integer for exact float parsing (little-endian 32-bit limbs).
private struct BigInteger {
    var limbs: [UInt32]

    init(_ value: UInt64) {
        limbs = [UInt32(truncatingIfNeeded: value), UInt32(truncatingIfNeeded: value >> 32)]
        trim()
    }

    mutating func trim() {
        while let last = limbs.last, last == 0 { limbs.removeLast() }
    }

    mutating func multiply(by factor: UInt32) {
        var carry: UInt64 = 0
        for index in limbs.indices {
            let product = UInt64(limbs[index]) * UInt64(factor) + carry
            limbs[index] = UInt32(truncatingIfNeeded: product)
            carry = product >> 32
        }
        if carry != 0 { limbs.append(UInt32(carry)) }
    }

    mutating func multiplyByPowerOfTen(_ power: Int) {
        var remaining = power
        while remaining >= 9 {
            multiply(by: 1_000_000_000)
            remaining -= 9
        }
        var factor: UInt32 = 1
        while remaining > 0 {
            factor *= 10
            remaining -= 1
        }
        if factor > 1 { multiply(by: factor) }
    }

    mutating func shiftLeft(_ bits: Int) {
        guard bits > 0, !limbs.isEmpty else { return }
        let whole = bits / 32
        let partial = UInt32(bits % 32)
        if partial > 0 {
            var carry: UInt32 = 0
            for index in limbs.indices {
                let limb = limbs[index]
                limbs[index] = limb << partial | carry
                carry = limb >> (32 - partial)
            }
            if carry != 0 { limbs.append(carry) }
        }
        if whole > 0 { limbs.insert(contentsOf: repeatElement(0, count: whole), at: 0) }
    }

    mutating func add(_ other: BigInteger) {
        var carry: UInt64 = 0
        var index = 0
        while index < other.limbs.count || carry != 0 {
            if index == limbs.count { limbs.append(0) }
            let sum = UInt64(limbs[index]) + UInt64(index < other.limbs.count ? other.limbs[index] : 0) + carry
            limbs[index] = UInt32(truncatingIfNeeded: sum)
            carry = sum >> 32
            index += 1
        }
    }

    func compare(_ other: BigInteger) -> Int {
        if limbs.count != other.limbs.count { return limbs.count < other.limbs.count ? -1 : 1 }
        var index = limbs.count - 1
        while index >= 0 {
            if limbs[index] != other.limbs[index] { return limbs[index] < other.limbs[index] ? -1 : 1 }
            index -= 1
        }
        return 0
    }
}

@inline(__always)
func bytesEqual(_ lhs: UnsafeRawPointer, _ rhs: UnsafePointer<UInt8>, _ count: Int) -> Bool {
    var offset = 0
    while offset < count {
        if lhs.load(fromByteOffset: offset, as: UInt8.self) != rhs[offset] { return false }
        offset += 1
    }
    return true
}

/// Whether raw bytes spell `text` exactly.
@inline(__always)
public func bytesEqual(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
    let count = text.utf8CodeUnitCount
    guard bytes.count == count else { return false }
    return count == 0 || bytesEqual(bytes.baseAddress!, text.utf8Start, count)
}

func appendUTF8(_ scalar: UInt32, to bytes: inout [UInt8]) {
    switch scalar {
    case ..<0x80:
        bytes.append(UInt8(scalar))
    case ..<0x800:
        bytes.append(UInt8(0xC0 | scalar >> 6))
        bytes.append(UInt8(0x80 | scalar & 0x3F))
    case ..<0x10000:
        bytes.append(UInt8(0xE0 | scalar >> 12))
        bytes.append(UInt8(0x80 | scalar >> 6 & 0x3F))
        bytes.append(UInt8(0x80 | scalar & 0x3F))
    default:
        bytes.append(UInt8(0xF0 | scalar >> 18))
        bytes.append(UInt8(0x80 | scalar >> 12 & 0x3F))
        bytes.append(UInt8(0x80 | scalar >> 6 & 0x3F))
        bytes.append(UInt8(0x80 | scalar & 0x3F))
    }
}

/// A small UTF-8 text builder for messages, without `String` interpolation (which costs
/// thousands of instructions and pulls in the Unicode tables).
public struct Text {
    /// The bytes so far.
    public var bytes: [UInt8] = []

    /// An empty text.
    public init() {}

    /// Appends literal text.
    public mutating func append(_ literal: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Appends raw UTF-8 bytes.
    public mutating func append(_ raw: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: raw)
    }

    /// Appends a string.
    public mutating func append(_ string: String) {
        withUTF8(string) { bytes.append(contentsOf: $0) }
    }

    /// Appends an integer in decimal.
    public mutating func append(_ value: Int64) {
        var digits: [UInt8] = []
        var magnitude = value.magnitude
        repeat {
            digits.append(UInt8(48 + magnitude % 10))
            magnitude /= 10
        } while magnitude > 0
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        bytes.append(contentsOf: digits.reversed())
    }

    /// The text as a `String`.
    public var string: String { bytes.withUnsafeBytes { makeString($0) } }
}

/// A `String` from UTF-8 bytes. Invalid UTF-8 (which the runtime never passes: it checks
/// all text) becomes U+FFFD per bad byte, repaired here on bytes: the standard library's
/// repairing initialiser drags its UTF-16 index machinery (~10 KB) into the module.
public func makeString(_ bytes: UnsafeRawBufferPointer) -> String {
    if bytes.isEmpty { return "" }
    if let valid = String(validating: bytes, as: UTF8.self) { return valid }
    var repaired: [UInt8] = []
    repaired.reserveCapacity(bytes.count + 8)
    var index = 0
    while index < bytes.count {
        let length = utf8SequenceLength(bytes, at: index)
        if length == 0 {
            repaired.append(0xEF)
            repaired.append(0xBF)
            repaired.append(0xBD)
            index += 1
        } else {
            repaired.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<index + length]))
            index += length
        }
    }
    return repaired.withUnsafeBytes { String(validating: $0, as: UTF8.self) } ?? ""
}

/// The length of the valid UTF-8 sequence at `index`, or 0 if it is not valid.
func utf8SequenceLength(_ bytes: UnsafeRawBufferPointer, at index: Int) -> Int {
    let lead = bytes[index]
    let length: Int
    var minimum: UInt32
    switch lead {
    case 0x00..<0x80: return 1
    case 0xC2..<0xE0: (length, minimum) = (2, 0x80)
    case 0xE0..<0xF0: (length, minimum) = (3, 0x800)
    case 0xF0..<0xF5: (length, minimum) = (4, 0x10000)
    default: return 0
    }
    guard index + length <= bytes.count else { return 0 }
    var scalar = UInt32(lead) & (0xFF >> UInt32(length + 1))
    for offset in 1..<length {
        let byte = bytes[index + offset]
        guard byte & 0xC0 == 0x80 else { return 0 }
        scalar = scalar << 6 | UInt32(byte & 0x3F)
    }
    minimum = minimum == 0 ? 0 : minimum
    guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else { return 0 }
    return length
}
