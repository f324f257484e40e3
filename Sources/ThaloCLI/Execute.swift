import ArgumentParser
import Foundation
import JSON

/// The arguments shared by `execute` and `submit`.
struct CommandArguments: ParsableArguments {
    @Argument(help: "The aggregate (BankAccount) or its category (bankAccount).") var aggregate: String
    @Argument(help: "The entity id.") var id: String
    @Argument(help: "The command, as named in the ESDL file.") var command: String
    @Argument(help: "The payload: a JSON object (default {}), or - to read it from standard input.") var payload: String = "{}"
    @Option(name: .long, help: ArgumentHelp("The command id (a UUID); repeating it is idempotent.", valueName: "uuid"))
    var commandID: String?
    @Option(name: .long, help: "Correlation stream name copied to the events.") var correlation: String?
    @Option(name: .long, help: "Reply stream name copied to the events.") var reply: String?

    func validate() throws {
        if id.isEmpty { throw ValidationError("the entity id is empty; give the id of the entity, e.g. 1") }
        if command.isEmpty { throw ValidationError("the command name is empty; give a command of the aggregate's ESDL file") }
        if aggregate.isEmpty { throw ValidationError("the aggregate name is empty; see `thalo modules`") }
    }

    func body() throws(CLIError) -> JSONValue {
        var text = payload
        if payload == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        }
        let value: JSONValue
        do {
            value = try JSONValue(parsing: text)
        } catch {
            throw CLIError.input("the payload is not valid JSON: \(error) (write it as '{\"amount\": 10}')")
        }
        guard case .object = value else { throw CLIError.input("the payload must be a JSON object, got \(value.typeName)") }
        return value
    }

    func headers() throws(CLIError) -> [String: String] {
        var headers: [String: String] = [:]
        if let commandID {
            guard UUID(uuidString: commandID) != nil else { throw CLIError.input("--command-id must be a UUID, got \(commandID)") }
            headers["Idempotency-Key"] = commandID
        }
        if let correlation { headers["Correlation-Stream-Name"] = correlation }
        if let reply { headers["Reply-Stream-Name"] = reply }
        return headers
    }

    var path: String { "\(Client.escape(aggregate))/\(Client.escape(id))/\(Client.escape(command))" }
}

/// `thalo execute`
struct Execute: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Handle a command now and print the events it wrote.",
        discussion: "Example: thalo execute BankAccount 1 deposit_funds '{\"amount\": 50}'")

    @OptionGroup var command: CommandArguments
    @OptionGroup var server: ServerConnection

    func run() async throws {
        try await runReporting(json: server.json) {
            let response = try await server.client.post(
                "/v1/execute/\(command.path)", body: try command.body(), headers: try command.headers())
            if server.json { return Terminal.print(response.body.jsonText) }
            let body = response.body
            let events = body["events"]?.arrayValue ?? []
            let module = "\(body["aggregate"]?.stringValue ?? "") \(body["moduleVersion"]?.stringValue ?? "")"
            switch body["outcome"]?.stringValue {
            case "ignored":
                Terminal.print(Terminal.paint("ignored", .yellow) + " by \(module)" + (body["reason"]?.stringValue.map { ": \($0)" } ?? ""))
            case "duplicate":
                Terminal.print(
                    Terminal.paint("already handled", .yellow) + " (command \(body["commandId"]?.stringValue ?? "")); its events:")
                printEvents(events)
            default:
                Terminal.print(
                    Terminal.paint("recorded \(events.count) event\(events.count == 1 ? "" : "s")", .green)
                        + " on \(body["streamName"]?.stringValue ?? "") (\(module))")
                printEvents(events)
            }
        }
    }
}

/// `thalo submit`
struct Submit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a command to the entity's command stream; the server's command consumer handles it.",
        discussion:
            "Prints where the command was written ({category}:command-{id}). Example: thalo submit Counter 7 increment '{\"amount\": 1}'")

    @OptionGroup var command: CommandArguments
    @OptionGroup var server: ServerConnection

    func run() async throws {
        try await runReporting(json: server.json) {
            let response = try await server.client.post(
                "/v1/submit/\(command.path)", body: try command.body(), headers: try command.headers())
            if server.json { return Terminal.print(response.body.jsonText) }
            let body = response.body
            let duplicate = body["duplicate"]?.boolValue == true
            Terminal.print(
                (duplicate ? Terminal.paint("already submitted", .yellow) : Terminal.paint("submitted", .green))
                    + " \(body["commandId"]?.stringValue ?? "") to \(body["streamName"]?.stringValue ?? "") at position \(body["position"]?.integerValue ?? -1) (global \(body["globalPosition"]?.integerValue ?? -1))"
            )
        }
    }
}

/// Prints events or messages as a table.
func printEvents(_ events: [JSONValue], stream: Bool = false) {
    guard !events.isEmpty else { return }
    let rows = events.map { event -> [String] in
        var row = [String(event["position"]?.integerValue ?? -1), String(event["globalPosition"]?.integerValue ?? -1)]
        if stream { row.append(event["streamName"]?.stringValue ?? "") }
        row += [event["time"]?.stringValue ?? "", Terminal.paint(event["type"]?.stringValue ?? "", .cyan), event["data"]?.jsonText ?? "{}"]
        return row
    }
    Terminal.print(Terminal.table(["POS", "GLOBAL"] + (stream ? ["STREAM"] : []) + ["TIME", "TYPE", "DATA"], rows))
}

/// `thalo entity`
struct Entity: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show an entity's state and events, now or as of a position or a time (time travel).")

    @Argument(help: "The aggregate.") var aggregate: String
    @Argument(help: "The entity id.") var id: String
    @Option(name: .long, help: "Up to and including this stream position.") var position: Int64?
    @Option(name: .long, help: "As of this time (ISO 8601, e.g. 2026-11-27T10:00:00Z).") var time: String?
    @OptionGroup var server: ServerConnection

    func validate() throws {
        if position != nil && time != nil { throw ValidationError("give --position or --time, not both") }
        if id.isEmpty { throw ValidationError("the entity id is empty; give the id of the entity, e.g. 1") }
        if aggregate.isEmpty { throw ValidationError("the aggregate name is empty; see `thalo modules`") }
    }

    func run() async throws {
        try await runReporting(json: server.json) {
            let response = try await server.client.get(
                "/v1/aggregates/\(Client.escape(aggregate))/\(Client.escape(id))",
                query: ["position": position.map(String.init), "time": time])
            if server.json { return Terminal.print(response.body.jsonText) }
            let body = response.body
            Terminal.print(
                "\(Terminal.paint(body["streamName"]?.stringValue ?? "", .bold)) at version \(body["version"]?.integerValue ?? -1) (\(body["aggregate"]?.stringValue ?? "") \(body["moduleVersion"]?.stringValue ?? ""))"
            )
            Terminal.print("state: " + (body["state"].map { $0.isNull ? "(the module exposes no state view)" : $0.prettyJSONText } ?? ""))
            printEvents(body["events"]?.arrayValue ?? [])
        }
    }
}
