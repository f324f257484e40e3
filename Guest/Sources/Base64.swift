/// Standard base64 (RFC 4648, with padding), the JSON form of ESDL's `Bytes`.
public enum Base64 {
    static let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    /// Writes `bytes` as base64 text (without quotes).
    public static func encode(_ bytes: UnsafeRawBufferPointer, into writer: inout JSONWriter) {
        let table = alphabet.utf8Start
        writer.reserve((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            writer.write(table[Int(chunk >> 18 & 63)])
            writer.write(table[Int(chunk >> 12 & 63)])
            writer.write(table[Int(chunk >> 6 & 63)])
            writer.write(table[Int(chunk & 63)])
            index += 3
        }
        let rest = bytes.count - index
        if rest > 0 {
            var chunk = UInt32(bytes[index]) << 16
            if rest == 2 { chunk |= UInt32(bytes[index + 1]) << 8 }
            writer.write(table[Int(chunk >> 18 & 63)])
            writer.write(table[Int(chunk >> 12 & 63)])
            writer.write(rest == 2 ? table[Int(chunk >> 6 & 63)] : UInt8(ascii: "="))
            writer.write(UInt8(ascii: "="))
        }
    }

    /// Decodes base64 text; `nil` when it is not valid base64. Padding is optional.
    public static func decode(_ text: UnsafeRawBufferPointer) -> [UInt8]? {
        var end = text.count
        while end > 0, text[end - 1] == UInt8(ascii: "=") { end -= 1 }
        guard text.count - end <= 2, end % 4 != 1 else { return nil }
        if text.count != end, text.count % 4 != 0 { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(end * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for index in 0..<end {
            guard let value = sextet(text[index]) else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return output
    }

    @inline(__always)
    static func sextet(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): byte &- 65
        case UInt8(ascii: "a")...UInt8(ascii: "z"): byte &- 71
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte &+ 4
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
    }
}
