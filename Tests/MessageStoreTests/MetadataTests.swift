import JSON
import MessageStore
import Testing

@Suite("Metadata")
struct MetadataTests {
    static let cases: [Metadata] = [
        Metadata(),
        Metadata(schemaVersion: "1.0.0"),
        Metadata(
            causationMessageStreamName: "account:command-1", causationMessagePosition: 3, causationMessageGlobalPosition: 99,
            correlationStreamName: "order-42", replyStreamName: "reply-7", schemaVersion: "2.1.0",
            properties: ["commandId": "9f1c…", "moduleName": "BankAccount", "a": .integer(-1), "zz": .array([.null, .bool(true)])]),
        // A property named like a known key, with the known key unset, stays a property.
        Metadata(properties: ["schemaVersion": .integer(1), "quote\"d": .string("line\nbreak\\")]),
        // With the known key set, the known key wins, as in `json`.
        Metadata(replyStreamName: "reply-1", properties: ["replyStreamName": "shadowed", "nested": .object(["b": 1, "a": 2])]),
        Metadata(causationMessagePosition: 0, properties: ["unicode": "é✓", "control": .string("\u{01}")]),
    ]

    @Test("jsonText is the sorted, compact text of json, whatever keys are set")
    func textMatchesJSON() throws {
        for metadata in Self.cases {
            #expect(metadata.jsonText == metadata.json.jsonText)
            #expect(try Metadata(jsonText: metadata.jsonText).json == metadata.json)
        }
        #expect(Self.cases[2].jsonText.hasPrefix(#"{"a":-1,"causationMessageGlobalPosition":99,"#))
        #expect(Self.cases[4].jsonText.contains(#""replyStreamName":"reply-1""#))
        #expect(!Self.cases[4].jsonText.contains("shadowed"))
    }

    @Test("isEmpty is true only when no key at all is set")
    func emptiness() {
        #expect(Metadata().isEmpty)
        #expect(Metadata().jsonText == "{}")
        for metadata in Self.cases.dropFirst() {
            #expect(!metadata.isEmpty)
        }
        #expect(!Metadata(properties: ["x": .null]).isEmpty)
        #expect(!Metadata(causationMessageGlobalPosition: 0).isEmpty)
    }
}
