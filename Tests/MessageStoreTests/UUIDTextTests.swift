import Foundation
import MessageStore
import Testing

@Suite("UUID text")
struct UUIDTextTests {
    @Test("formatting and parsing agree with Foundation on random ids")
    func agreesWithFoundation() {
        for _ in 0..<2_000 {
            let id = UUID()
            #expect(id.lowercasedText == id.uuidString.lowercased())
            #expect(UUID(canonicalText: id.lowercasedText) == id)
            #expect(UUID(canonicalText: id.uuidString) == id)
            #expect(UUID(canonicalText: Substring(id.uuidString)) == id)
        }
    }

    @Test("random ids are version 4, of the RFC 4122 variant, and distinct")
    func randomIDs() {
        var seen = Set<UUID>()
        for _ in 0..<10_000 {
            let id = UUID.random()
            let text = id.lowercasedText
            #expect(Array(text)[14] == "4", "version nibble of \(text)")
            #expect("89ab".contains(Array(text)[19]), "variant nibble of \(text)")
            #expect(UUID(uuidString: text) == id)
            seen.insert(id)
        }
        #expect(seen.count == 10_000)
        // Every other bit varies: the 122 random bits are not stuck at 0 or 1.
        var ones = [Int](repeating: 0, count: 128)
        for id in seen {
            withUnsafeBytes(of: id.uuid) { bytes in
                for bit in 0..<128 where bytes[bit / 8] & (0x80 >> UInt8(bit % 8)) != 0 { ones[bit] += 1 }
            }
        }
        let fixed: Set<Int> = [48, 49, 50, 51, 64, 65]
        for bit in 0..<128 where !fixed.contains(bit) {
            #expect((4_000...6_000).contains(ones[bit]), "bit \(bit) was set in \(ones[bit]) of 10,000 ids")
        }
    }

    @Test("time-ordered ids carry the time in milliseconds first, are version 8, and are distinct")
    func timeOrderedIDs() throws {
        let time = Timestamp(microsecondsSinceEpoch: 1_795_000_000_123_456)
        let id = UUID.timeOrdered(at: time)
        let text = id.lowercasedText
        // 1,795,000,000,123 ms is 0x01a1ee565e7b.
        #expect(text.hasPrefix("01a1ee56-5e7b-8"), "\(text)")
        #expect("89ab".contains(Array(text)[19]), "variant nibble of \(text)")
        #expect(id.isTimeOrdered)
        #expect(!UUID.random().isTimeOrdered)
        #expect(UUID(canonicalText: text) == id)
        // Ids of later milliseconds sort after earlier ones, as text and as bytes.
        let later = UUID.timeOrdered(at: Timestamp(microsecondsSinceEpoch: time.microsecondsSinceEpoch + 1_000))
        #expect(later.lowercasedText > text)
        // Within one millisecond the other 74 bits are random: no two ids are equal.
        var seen = Set<UUID>()
        for _ in 0..<10_000 { seen.insert(UUID.timeOrdered(at: time)) }
        #expect(seen.count == 10_000)
        #expect(seen.allSatisfy { $0.lowercasedText.hasPrefix("01a1ee56-5e7b-8") })
    }

    @Test(
        "malformed text is rejected",
        arguments: [
            "", "not-a-uuid", "123e4567-e89b-12d3-a456-42661417400", "123e4567-e89b-12d3-a456-4266141740000",
            "123e4567ae89b-12d3-a456-426614174000", "123e4567-e89b-12d3-a456-42661417400g", "{23e4567-e89b-12d3-a456-426614174000",
            "123e4567-e89b-12d3-a456-42661417400é",
        ])
    func rejectsMalformed(text: String) {
        #expect(UUID(canonicalText: text) == nil)
        #expect(UUID(uuidString: text) == nil)
    }
}
