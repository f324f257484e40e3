import ArgumentParser
import Foundation
import JSON

/// The deploy check's options, shared by `thalo publish` and `thalo modules activate`.
struct DeployCheckOptions: ParsableArguments {
    @Flag(name: .long, help: "Go ahead even when the deploy check finds problems (they are still listed).") var force = false
    @Option(name: .long, help: ArgumentHelp("Replay only N streams of the category, spread over it (default: all).", valueName: "N"))
    var sample: Int?
    @Flag(name: .long, help: "Also list the streams whose state view differs between the running and the new version.")
    var compare = false

    func validate() throws {
        if let sample, sample < 0 { throw ValidationError("--sample must be 0 or more") }
    }

    /// The request members: `force`, `compare` and `sample`.
    var body: [String: JSONValue] {
        var body: [String: JSONValue] = ["force": .bool(force), "compare": .bool(compare)]
        if let sample { body["sample"] = .integer(Int64(sample)) }
        return body
    }
}

/// `thalo publish`
struct Publish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish a module version: its ESDL schema and its wasm binary.",
        discussion: """
            The version is the schema's `version`; it must be newer than the published ones, unless the newest is \
            sent again with the same schema and module (a retry, for instance after a 503: not stored twice, \
            checked and run as the first publish would have been). New commands run on it at once. Before that, \
            the server checks it against the stored history of its category, while the running version keeps \
            serving: the event types in the store must still be readable under the new \
            schema (no stored event type dropped, no required field removed or added, types only widened), and \
            every stream is replayed through the new module (or --sample N of them). A version that fails is \
            refused (exit 6) with the streams, positions and fields that break; --force publishes it anyway.
            """)

    @Argument(help: "The ESDL schema file.") var schema: String
    @Argument(help: "The compiled module (.wasm).") var module: String
    @OptionGroup var check: DeployCheckOptions
    @OptionGroup var server: ServerConnection

    func run() async throws {
        try await runReporting(json: server.json) {
            guard let schemaText = try? String(contentsOfFile: schema, encoding: .utf8) else {
                throw CLIError.input("cannot read the schema file \(schema)")
            }
            guard let wasm = FileManager.default.contents(atPath: module) else {
                throw CLIError.input("cannot read the module file \(module); build it with `thalo build <dir>`")
            }
            var body = check.body
            body["schema"] = .string(schemaText)
            body["wasm"] = .string(wasm.base64EncodedString())
            body["file"] = .string((schema as NSString).lastPathComponent)
            let progress = server.json ? nil : Progress("checking \(schema) against the stored history…")
            let response: Client.Response
            do {
                response = try await server.client.post("/v1/modules", body: .object(body))
                progress?.stop()
            } catch {
                progress?.stop()
                throw error
            }
            if server.json { return Terminal.print(response.body.jsonText) }
            let name = response.body["name"]?.stringValue ?? "?"
            let version = response.body["version"]?.stringValue ?? "?"
            Terminal.print(
                "published \(Terminal.paint("\(name) \(version)", .green)) (\(response.body["size"]?.integerValue ?? 0) bytes, category \(response.body["category"]?.stringValue ?? "?"))"
            )
            if let check = response.body["check"] { Self.printCheck(check) }
        }
    }

    /// The deploy check's summary, and what it found (shown even when forced).
    static func printCheck(_ check: JSONValue) {
        let streams = check["replayedStreams"]?.integerValue ?? 0
        let total = check["streams"]?.integerValue ?? 0
        let events = check["replayedEvents"]?.integerValue ?? 0
        let seconds = check["seconds"]?.doubleValue ?? 0
        Terminal.print("checked: replayed \(streams) of \(total) streams (\(events) events) in \(String(format: "%.2f", seconds)) s")
        let types = (check["storedEventTypes"]?.arrayValue ?? []).compactMap(\.stringValue)
        if !types.isEmpty { Terminal.print("  stored event types: " + types.joined(separator: ", ")) }
        for problem in check["schemaProblems"]?.arrayValue ?? [] {
            Terminal.print("  " + Terminal.paint("schema: ", .red) + (problem.stringValue ?? ""))
        }
        for (label, key) in [("replay failed", "replayFailures"), ("state differs", "differences")] {
            for finding in check[key]?.arrayValue ?? [] {
                let position = finding["position"]?.integerValue.map { " at \($0)" } ?? ""
                Terminal.print(
                    "  \(Terminal.paint(label, .yellow)): \(finding["stream"]?.stringValue ?? "")\(position): \(finding["message"]?.stringValue ?? "")"
                )
            }
        }
    }
}

/// `thalo modules`, `thalo modules activate`
struct Modules: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the published module versions, or make one the running version.",
        subcommands: [ListModules.self, Activate.self], defaultSubcommand: ListModules.self)
}

/// `thalo modules activate`
struct Activate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a published version the running one, live, as publishing does (rollback or roll forward).",
        discussion: """
            The version is first checked against the stored history like a new one (see `thalo publish --help`); \
            every node switches to it.
            """)

    @Argument(help: "The aggregate, e.g. BankAccount.") var aggregate: String
    @Argument(help: "The published version to run, e.g. 0.1.0.") var version: String
    @OptionGroup var check: DeployCheckOptions
    @OptionGroup var server: ServerConnection

    func run() async throws {
        try await runReporting(json: server.json) {
            let path = "/v1/modules/\(Client.escape(aggregate))/\(Client.escape(version))/activate"
            let response = try await server.client.post(path, body: .object(check.body))
            if server.json { return Terminal.print(response.body.jsonText) }
            let name = response.body["name"]?.stringValue ?? aggregate
            Terminal.print("running \(Terminal.paint("\(name) \(response.body["version"]?.stringValue ?? version)", .green))")
            if let check = response.body["check"] { Publish.printCheck(check) }
        }
    }
}

/// `thalo modules [AGGREGATE]`
struct ListModules: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the published module versions (the default).")

    @Argument(help: "Only this aggregate.") var aggregate: String?
    @OptionGroup var server: ServerConnection

    func run() async throws {
        try await runReporting(json: server.json) {
            let path = aggregate.map { "/v1/modules/\(Client.escape($0))" } ?? "/v1/modules"
            let response = try await server.client.get(path)
            if server.json { return Terminal.print(response.body.jsonText) }
            let modules = response.body["modules"]?.arrayValue ?? []
            if modules.isEmpty {
                return Terminal.print("no modules published; publish one with `thalo publish <schema.esdl> <module.wasm>`")
            }
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
