import ArgumentParser
import Foundation

/// `thalo`: the command line of the Thalo event-sourcing runtime.
@available(macOS 10.15, macCatalyst 13, iOS 13, tvOS 13, watchOS 6, *)
public struct ThaloCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "thalo",
        abstract: "Thalo: an event-sourcing runtime for aggregates written in any language that compiles to WebAssembly.",
        discussion: """
            Run a server with `thalo serve` (embedded store in ./.thalo, or --database-url for \
            PostgreSQL), publish modules with `thalo publish`, and send commands with \
            `thalo execute` or `thalo submit`. Local tools (`new`, `build`, `generate`, `test`) \
            work without a server.

            Exit codes: 0 success; 1 other failure; 2 invalid input; 3 server unreachable; \
            4 command rejected by the aggregate; 5 not found; 6 conflict; 7 server or module \
            failure; 8 unauthorized; 64 usage error.
            """,
        version: "0.1.0",
        subcommands: [
            Serve.self, Publish.self, Execute.self, Submit.self, Modules.self, Entity.self, Streams.self, Cluster.self, DB.self,
            New.self, Build.self, Generate.self, Test.self,
        ])

    public init() {}
}

/// Where the server is and how to talk to it.
struct ServerConnection: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The server's URL (or THALO_URL).", valueName: "url"))
    var url: String = ProcessInfo.processInfo.environment["THALO_URL"] ?? "http://127.0.0.1:7878"

    @Option(name: .long, help: ArgumentHelp("Bearer token of the server (or THALO_TOKEN).", valueName: "token"))
    var token: String? = ProcessInfo.processInfo.environment["THALO_TOKEN"]

    @Flag(name: .long, help: "Print JSON (the server's response) instead of text.")
    var json = false

    var client: Client { Client(baseURL: url, token: token.flatMap { $0.isEmpty ? nil : $0 }) }
}
