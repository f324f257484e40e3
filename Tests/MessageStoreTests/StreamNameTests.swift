import MessageStore
import Testing

@Suite("Stream names")
struct StreamNameTests {
    @Test("parts follow Message DB's category, id and cardinal id rules")
    func parts() {
        let stream: StreamName = "account:command+position-123+456"
        #expect(stream.category == "account:command+position")
        #expect(stream.entityName == "account")
        #expect(stream.categoryTypes == ["command", "position"])
        #expect(stream.id == "123+456")
        #expect(stream.cardinalID == "123")
        #expect(!stream.isCategory)
        let category: StreamName = "account"
        #expect(category.isCategory)
        #expect(category.id == nil)
        #expect(category.cardinalID == nil)
        let dashed: StreamName = "account-1-2"
        #expect(dashed.category == "account")
        #expect(dashed.id == "1-2")
        #expect(StreamName(category: "account", id: "7", types: ["command"]) == "account:command-7")
    }

    @Test("malformed names are rejected with the reason")
    func validation() {
        #expect(StreamName.problem(in: "") == "the name is empty")
        #expect(StreamName.problem(in: "account-") == "the id after '-' is empty")
        #expect(StreamName.problem(in: "-1") == "the category before '-' is empty")
        #expect(StreamName.problem(in: "a b-1") != nil)
        #expect(StreamName.problem(in: "account-1") == nil)
        // The ASCII fast path agrees with Unicode's White_Space property and the control
        // characters for every scalar of the Basic Multilingual Plane.
        for value in UInt32(0)...0xFFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let expected = scalar.properties.isWhitespace || value < 0x20 || value == 0x7F
            #expect((StreamName.problem(in: "a\(Character(scalar))b-1") != nil) == expected, "U+\(String(value, radix: 16))")
        }
        #expect(throws: MessageStoreError.self) { try StreamName(validating: "a\tb") }
    }

    @Test("hash_64 matches Message DB's known values")
    func hash() {
        // md5('') = d41d8cd98f00b204e9800998ecf8427e; its first 16 hex digits as a signed bigint.
        #expect(Hash64.messageDB("") == Int64(bitPattern: 0xd41d_8cd9_8f00_b204))
        // md5('abc') = 900150983cd24fb0d6963f7d28e17f72
        #expect(Hash64.messageDB("abc") == Int64(bitPattern: 0x9001_5098_3cd2_4fb0))
    }
}
