import ArgumentParser
import Foundation
import JSON

/// `thalo streams`
struct Streams: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read streams and follow categories.", subcommands: [Read.self, Tail.self])

    /// `thalo streams read`
    struct Read: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a stream's messages (or a category's, when the name has no '-').")

        @Argument(help: "A stream (bankAccount-1) or a category (bankAccount).") var stream: String
        @Option(name: .long, help: "First position (stream) or global position (category).") var position: Int64?
        @Option(name: .long, help: "The most messages to print; -1 for all.") var limit: Int64 = -1
        @OptionGroup var server: ServerConnection

        func run() async throws {
            try await runReporting(json: server.json) {
                let isCategory = !stream.contains("-")
                let path = isCategory ? "/v1/categories/\(Client.escape(stream))" : "/v1/streams/\(Client.escape(stream))"
                var next = position ?? (isCategory ? 1 : 0)
                var messages: [JSONValue] = []
                let progress = Progress("reading \(stream)…")
                defer { progress.stop() }
                while limit < 0 || messages.count < limit {
                    let batch = limit < 0 ? 1000 : min(1000, limit - Int64(messages.count))
                    let response = try await server.client.get(path, query: ["position": String(next), "batchSize": String(batch)])
                    let page = response.body["messages"]?.arrayValue ?? []
                    messages += page
                    progress.update("reading \(stream)… \(messages.count) messages")
                    guard page.count == batch, let last = page.last else { break }
                    next = (isCategory ? last["globalPosition"]?.integerValue : last["position"]?.integerValue).map { $0 + 1 } ?? next
                }
                progress.stop()
                if server.json { return Terminal.print(JSONValue.object(["messages": .array(messages)]).jsonText) }
                if messages.isEmpty { return Terminal.print("no messages in \(stream)") }
                printEvents(messages, stream: isCategory)
            }
        }
    }

    /// `thalo streams tail`
    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Follow a category live (Server-Sent Events), printing each message as it is written.",
            discussion: "Starts at the end unless --position or --from-start is given. Stop with Ctrl-C.")

        @Argument(help: "The category, e.g. bankAccount.") var category: String
        @Option(name: .long, help: "Start at this global position.") var position: Int64?
        @Flag(name: .long, help: "Start at the beginning of the category.") var fromStart = false
        @Option(name: .long, help: ArgumentHelp("Only this member's share, as member/size (e.g. 0/2).", valueName: "m/n"))
        var consumerGroup: String?
        @Option(name: .long, help: "Stop after this many messages.") var count: Int?
        @OptionGroup var server: ServerConnection

        func run() async throws {
            try await runReporting(json: server.json) {
                var query: [String: String?] = [:]
                if let consumerGroup {
                    let parts = consumerGroup.split(separator: "/")
                    guard parts.count == 2, Int(parts[0]) != nil, Int(parts[1]) != nil else {
                        throw CLIError.input("--consumer-group must be member/size, e.g. 0/2")
                    }
                    query["consumerGroupMember"] = String(parts[0])
                    query["consumerGroupSize"] = String(parts[1])
                }
                var start = position ?? 1
                if position == nil && !fromStart {
                    // The end: after the last message of the category right now.
                    var next: Int64 = 1
                    while true {
                        let page = try await server.client.get(
                            "/v1/categories/\(Client.escape(category))", query: ["position": String(next), "batchSize": "1000"])
                        let messages = page.body["messages"]?.arrayValue ?? []
                        guard let last = messages.last?["globalPosition"]?.integerValue else { break }
                        next = last + 1
                        if messages.count < 1000 { break }
                    }
                    start = next
                }
                query["position"] = String(start)
                if !server.json && Terminal.isStandardErrorTTY {
                    Terminal.note("following \(category) from global position \(start); Ctrl-C to stop")
                }
                var seen = 0
                let limit = count
                try await server.client.events("/v1/categories/\(Client.escape(category))/events", query: query, lastEventID: nil) {
                    data, _ in
                    if server.json {
                        Terminal.print(data)
                    } else if let message = try? JSONValue(parsing: data) {
                        Terminal.print(
                            "\(message["globalPosition"]?.integerValue ?? -1)  \(message["streamName"]?.stringValue ?? "")@\(message["position"]?.integerValue ?? -1)  \(Terminal.paint(message["type"]?.stringValue ?? "", .cyan))  \(message["data"]?.jsonText ?? "")"
                        )
                    }
                    seen += 1
                    if let limit, seen >= limit { throw CancellationError() }
                }
            }
        }
    }
}
