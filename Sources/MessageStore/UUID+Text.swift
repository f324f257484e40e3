import Foundation

extension UUID {
    /// Parses the 36-character `8-4-4-4-12` hexadecimal form (either case), as
    /// `UUID(uuidString:)` does, without Foundation's scanner: stores and the runtime read
    /// one id per message, so this is on the path of every rebuild.
    public init?(canonicalText text: some StringProtocol) {
        let fast = text.utf8.withContiguousStorageIfAvailable { Self.parse($0) }
        guard let value = fast ?? Array(text.utf8).withUnsafeBufferPointer({ Self.parse($0) }) else { return nil }
        self.init(uuid: value)
    }

    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> uuid_t? {
        guard bytes.count == 36 else { return nil }
        var value = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)).uuid
        let parsed = withUnsafeMutableBytes(of: &value) { output -> Bool in
            var read = 0
            var written = 0
            while read < 36 {
                if read == 8 || read == 13 || read == 18 || read == 23 {
                    guard bytes[read] == UInt8(ascii: "-") else { return false }
                    read += 1
                    continue
                }
                guard let high = hexValue(bytes[read]), let low = hexValue(bytes[read + 1]) else { return false }
                output[written] = high << 4 | low
                written += 1
                read += 2
            }
            return true
        }
        return parsed ? value : nil
    }

    /// A random (version 4) UUID from the system's generator (`getrandom`). Foundation's
    /// `UUID()` opens and reads `/dev/urandom` on Linux for each id, three system calls that
    /// every command and every appended message without an id would pay; the bytes come from
    /// ``RandomBytes``, which asks the system for 4 KiB at a time.
    public static func random() -> UUID {
        var value = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)).uuid
        withUnsafeMutableBytes(of: &value) { bytes in
            RandomBytes.shared.fill(bytes)
            bytes[6] = (bytes[6] & 0x0F) | 0x40
            bytes[8] = (bytes[8] & 0x3F) | 0x80
        }
        return UUID(uuid: value)
    }

    /// A time-ordered UUID: the current Unix time in milliseconds in the first 48 bits
    /// (big-endian, as in version 7), then 74 random bits, marked as version 8 (RFC 9562's
    /// layout for ids of an application's own design).
    ///
    /// Thalo gives commands without an id one of these, and the events of such a command
    /// keep its first 48 bits (``isTimeOrdered``): ids written in the same millisecond sit
    /// next to each other in the store's unique index of ids, so that a commit of many
    /// events changes a page or two of that index instead of a page per event.
    public static func timeOrdered(at time: Timestamp = .now()) -> UUID {
        var value = random().uuid
        let milliseconds = UInt64(max(0, time.microsecondsSinceEpoch / 1_000))
        withUnsafeMutableBytes(of: &value) { bytes in
            for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: milliseconds >> (40 - 8 * UInt64(index))) }
            bytes[6] = (bytes[6] & 0x0F) | 0x80
        }
        return UUID(uuid: value)
    }

    /// Whether this id is of version 8, the version of ``timeOrdered(at:)``.
    public var isTimeOrdered: Bool { uuid.6 >> 4 == 8 && uuid.8 >> 6 == 0b10 }

    /// The lowercase `8-4-4-4-12` form Message DB and Thalo store, without Foundation's
    /// formatter (`lowercasedText` costs a `sprintf` and a copy).
    public var lowercasedText: String {
        withUnsafeBytes(of: uuid) { raw in
            String(unsafeUninitializedCapacity: 36) { output in
                var written = 0
                for (index, byte) in raw.enumerated() {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        output[written] = UInt8(ascii: "-")
                        written += 1
                    }
                    output[written] = Self.hexDigit(byte >> 4)
                    output[written + 1] = Self.hexDigit(byte & 0x0F)
                    written += 2
                }
                return written
            }
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }
}
