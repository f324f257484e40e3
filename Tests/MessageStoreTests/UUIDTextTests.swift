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
