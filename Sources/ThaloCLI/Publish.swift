import ArgumentParser
import Foundation
import JSON

/// `thalo publish`
struct Publish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish a module version: its ESDL schema and its wasm binary.",
        discussion: "The version is the schema's `version`; it must be newer than the published ones. New commands run on it at once.")

    @Argument(help: "The ESDL schema file.") var schema: String
    @Argument(help: "The compiled module (.wasm).") var module: String
    @OptionGroup var server: ServerConnection

    func run() async throws {
        try await runReporting(json: server.json) {
            guard let schemaText = try? String(contentsOfFile: schema, encoding: .utf8) else {
                throw CLIError.input("cannot read the schema file \(schema)")
            }
            guard let wasm = FileManager.default.contents(atPath: module) else {
                throw CLIError.input("cannot read the module file \(module); build it with `thalo build <dir>`")
            }
            let body: JSONValue = [
                "schema": .string(schemaText), "wasm": .string(wasm.base64EncodedString()),
                "file": .string((schema as NSString).lastPathComponent),
            ]
            let response = try await server.client.post("/v1/modules", body: body)
            if server.json { return Terminal.print(response.body.jsonText) }
            let name = response.body["name"]?.stringValue ?? "?"
            let version = response.body["version"]?.stringValue ?? "?"
            Terminal.print("published \(Terminal.paint("\(name) \(version)", .green)) (\(response.body["size"]?.integerValue ?? 0) bytes, category \(response.body["category"]?.stringValue ?? "?"))")
        }
    }
}

/// `thalo modules`
struct Modules: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the published module versions.")

    @Argument(help: "Only this aggregate.") var aggregate: String?
    @OptionGroup var server: ServerConnection

    func run() async throws {
        try await runReporting(json: server.json) {
            let path = aggregate.map { "/v1/modules/\(Client.escape($0))" } ?? "/v1/modules"
            let response = try await server.client.get(path)
            if server.json { return Terminal.print(response.body.jsonText) }
            let modules = response.body["modules"]?.arrayValue ?? []
            if modules.isEmpty { return Terminal.print("no modules published; publish one with `thalo publish <schema.esdl> <module.wasm>`") }
            let rows = modules.map { module in
                [
                    module["name"]?.stringValue ?? "", module["version"]?.stringValue ?? "", module["category"]?.stringValue ?? "",
                    String(module["size"]?.integerValue ?? 0), module["publishedAt"]?.stringValue ?? "",
                    module["active"]?.boolValue == true ? Terminal.paint("active", .green) : "",
                ]
            }
            Terminal.print(Terminal.table(["NAME", "VERSION", "CATEGORY", "SIZE", "PUBLISHED", ""], rows))
        }
    }
}
