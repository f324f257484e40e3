import ESDL
import Foundation
import Testing

@testable import ESDLCodegen

/// Keeps the validator's reserved names (`Schema.reservedNames`) in step with what the
/// guest SDK and the generators declare at top level: a new SDK type or export that is not
/// reserved would let a schema through whose generated code cannot compile.
@Suite("Reserved names follow the SDK and the generators")
struct ReservedNamesFollowCodeTests {
    /// The names declared at the top level of a Swift file (types, functions, variables),
    /// with any attributes and modifiers before them.
    static func topLevelDeclarations(in source: String) throws -> Set<String> {
        let declaration = try Regex(
            #"^(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|internal|private|fileprivate|final|nonisolated(?:\(unsafe\))?)\s+)*(?:struct|enum|protocol|class|actor|typealias|func|let|var)\s+(\w+)"#
        )
        var names = Set<String>()
        for line in source.split(separator: "\n") {
            if let match = try declaration.prefixMatch(in: line), let name = match.output[1].substring {
                names.insert(String(name))
            }
        }
        return names
    }

    @Test("every top-level declaration of the guest SDK is reserved")
    func sdkDeclarations() throws {
        let folder = Fixtures.repositoryRoot.appendingPathComponent("Guest/Sources")
        var declared = Set<String>()
        for file in try FileManager.default.contentsOfDirectory(atPath: folder.path) where file.hasSuffix(".swift") {
            declared.formUnion(try Self.topLevelDeclarations(in: String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)))
        }
        // Sanity: the scan finds the SDK's main types, functions and variables.
        #expect(
            declared.isSuperset(of: ["Context", "JSONValue", "EntityTable", "Indirect", "bytesEqual", "thalo_malloc", "keptBufferLimit"]))
        let missing = declared.subtracting(Schema.reservedNames).sorted()
        #expect(missing.isEmpty, "not reserved, add them to ReservedNames in Sources/ESDL/Schema+ReservedNames.swift: \(missing)")
    }

    @Test("every top-level declaration of generated guest and host code is reserved or derived from the aggregate")
    func generatedDeclarations() throws {
        for entry in Fixtures.goldenSchemas {
            let schema = try Fixtures.schema(entry.esdl)
            let guest = SwiftGuestGenerator(schema: schema)
            let host = SwiftHostGenerator(schema: schema)
            let derived = Set(Schema.derivedNames(ofAggregate: schema.aggregate.name))
            #expect(derived.contains(guest.protocolName))
            #expect(derived.contains(host.eventEnumName))

            let defined = Set(schema.events.map(\.name) + schema.types.map(\.name))
            // Alternatives enums and command structs step aside for definitions by themselves.
            let perCommand = Set(schema.aggregate.commands.map { SwiftNames.upperCamel($0.name) })
            for (label, code) in [("guest", guest.generate()), ("host", host.generate())] {
                for name in try Self.topLevelDeclarations(in: code) where !defined.contains(name) {
                    let stepsAside = perCommand.contains { name == $0 + "Event" || name == $0 + "Command" }
                    #expect(
                        Schema.reservedNames.contains(name) || derived.contains(name) || stepsAside,
                        "\(label) code for \(entry.golden) declares '\(name)', which the validator does not reserve")
                }
            }
        }
    }

    @Test("an event named like a type the guest generator derives is refused before any code is generated")
    func derivedNamesAreRefused() throws {
        let text = "version = \"0.1.0\"\naggregate Shop { go() -> ShopModule }\nevent ShopModule {}\n"
        let analysis = Schema.analyze(text, file: "shop.esdl")
        #expect(analysis.schema == nil)
        #expect(analysis.diagnostics.map(\.code) == [.reservedName])
    }
}
