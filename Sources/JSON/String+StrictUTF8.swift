extension String {
    /// The text of `bytes` when they are well-formed UTF-8, nil otherwise (as
    /// `String(validating:as:)`, which the standard library does not specialise for bytes: it
    /// looked up generic metadata for every string, a share of every command's time in
    /// profiles). ASCII text, what JSON keys and most values are, is checked eight bytes at a
    /// time and copied without the general validation.
    public init?(strictUTF8 bytes: UnsafeBufferPointer<UInt8>) {
        guard Self.isASCII(bytes) else {
            guard let text = String(validating: bytes, as: UTF8.self) else { return nil }
            self = text
            return
        }
        self = String(decoding: bytes, as: UTF8.self)
    }

    private static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let raw = UnsafeRawPointer(base)
        var index = 0
        var high: UInt64 = 0
        while index + 8 <= bytes.count {
            high |= raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < bytes.count {
            high |= UInt64(bytes[index])
            index += 1
        }
        return high & 0x8080_8080_8080_8080 == 0
    }
}
