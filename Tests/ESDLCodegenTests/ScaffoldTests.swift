import Foundation
import GuestBuilder
import Testing

@Suite("thalo new")
struct ScaffoldTests {
    @Test("a new project has a schema, an aggregate, a spec and a README, and builds")
    func newProjectBuilds() async throws {
        let parent = try Fixtures.temporaryDirectory("new")
        let project = try Scaffold.create(name: "ShoppingCart", in: parent)
        #expect(project.lastPathComponent == "shopping_cart")
        for file in ["shopping_cart.esdl", "ShoppingCart.swift", "README.md", "Tests/shopping_cart.spec.json"] {
            #expect(FileManager.default.fileExists(atPath: project.appendingPathComponent(file).path), "missing \(file)")
        }
        let spec =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: project.appendingPathComponent("Tests/shopping_cart.spec.json"))) as? [String: Any]
        #expect(spec?["aggregate"] as? String == "ShoppingCart")
        #expect((spec?["scenarios"] as? [Any])?.isEmpty == false)
        let result = try await GuestBuilder().build(directory: project)
        #expect(result.wasmURL.path == project.appendingPathComponent(".build/shopping_cart.wasm").path)
        #expect(result.schema.aggregate.name == "ShoppingCart")
        #expect(result.diagnostics.isEmpty, "warnings in the template: \(result.diagnostics)")
    }

    @Test(
        "names in snake_case, kebab-case and camel case give the same project",
        arguments: ["shopping_cart", "shopping-cart", "ShoppingCart"])
    func nameForms(name: String) throws {
        let project = try Scaffold.create(name: name, in: try Fixtures.temporaryDirectory("names"))
        #expect(project.lastPathComponent == "shopping_cart")
        let source = try String(contentsOf: project.appendingPathComponent("ShoppingCart.swift"), encoding: .utf8)
        #expect(source.contains("struct ShoppingCart: ShoppingCartAggregate"))
    }

    @Test("unusable names and existing folders are rejected", arguments: ["", "1cart", "cart!", "café"])
    func badNames(name: String) throws {
        let parent = try Fixtures.temporaryDirectory("bad")
        #expect(throws: GuestBuildError.self) { try Scaffold.create(name: name, in: parent) }
    }

    @Test("an existing folder is not overwritten")
    func existingFolder() throws {
        let parent = try Fixtures.temporaryDirectory("exists")
        _ = try Scaffold.create(name: "cart", in: parent)
        #expect(throws: GuestBuildError.self) { try Scaffold.create(name: "cart", in: parent) }
    }
}
