import JSON
import Testing

@Suite("Strict UTF-8 decoding")
struct StrictUTF8Tests {
    static func decode(_ bytes: [UInt8]) -> String? {
        bytes.withUnsafeBufferPointer { String(strictUTF8: $0) }
    }

    @Test("well-formed text decodes to itself, ASCII or not, at every length around the 8-byte steps")
    func wellFormed() {
        for text in ["", "a", "hello, world", "é", "naïve café", "日本語のテキスト", "😀 emoji", "\u{10FFFF}", "\u{FFFD}"] {
            #expect(Self.decode(Array(text.utf8)) == text)
        }
        for length in 0..<20 {
            let ascii = String(repeating: "x", count: length)
            #expect(Self.decode(Array(ascii.utf8)) == ascii)
            // One two-byte character at each place: the ASCII check must see it wherever it is.
            for place in 0...length {
                var text = ascii
                text.insert("é", at: text.index(text.startIndex, offsetBy: place))
                #expect(Self.decode(Array(text.utf8)) == text)
            }
        }
    }

    @Test(
        "ill-formed bytes are refused, wherever they are",
        arguments: [
            [0x80] as [UInt8],  // a continuation byte alone
            [0xC3],  // a two-byte sequence cut short
            [0xC0, 0x80],  // an overlong NUL
            [0xE0, 0x80, 0x80],  // an overlong three-byte sequence
            [0xED, 0xA0, 0x80],  // a UTF-16 surrogate
            [0xF0, 0x90, 0x80],  // a four-byte sequence cut short (replacing it keeps the length)
            [0xF4, 0x90, 0x80, 0x80],  // past U+10FFFF
            [0xFF],
        ])
    func illFormed(bad: [UInt8]) {
        for prefix in 0..<10 {
            let bytes = Array(repeating: UInt8(ascii: "a"), count: prefix) + bad + Array("tail".utf8)
            #expect(Self.decode(bytes) == nil, "\(bytes)")
        }
    }
}
