/// Checks base64 text without decoding it.
enum Base64 {
    /// Whether `text` is standard, padded base64 (RFC 4648 §4): groups of four characters
    /// from `A–Z a–z 0–9 + /`, the last group possibly ending in `=` or `==`.
    static func isValid(_ text: String) -> Bool {
        let utf8 = text.utf8
        let count = utf8.count
        guard count % 4 == 0 else { return false }
        var offset = 0
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"):
                break
            case UInt8(ascii: "="):
                // Padding only in the last two positions, and never followed by data (`=x`).
                guard offset >= count - 2 else { return false }
                if offset == count - 2 {
                    guard utf8.last == UInt8(ascii: "=") else { return false }
                }
            default:
                return false
            }
            offset += 1
        }
        return true
    }
}
