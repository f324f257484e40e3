import ArgumentParser
import Foundation
import JSON

/// `thalo cluster`
struct Cluster: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "See the nodes sharing the command streams.", subcommands: [Status.self], defaultSubcommand: Status.self)

    /// `thalo cluster status`
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the nodes and the partition each one holds, with positions and lag.",
            discussion: """
                On PostgreSQL each command category is split into partitions (16 by default) leased \
                to the nodes; a node that stops renewing its leases, or whose database session is \
                gone, loses them to the others. The embedded store is a single node that consumes \
                each command category whole (partition 0 of 1).
                """)

        @OptionGroup var server: ServerConnection

        func run() async throws {
            try await runReporting(json: server.json) {
                let response = try await server.client.get("/v1/cluster")
                if server.json { return Terminal.print(response.body.jsonText) }
                let me = response.body["node"]?.stringValue ?? ""
                let nodes = response.body["nodes"]?.arrayValue ?? []
                let partitions = response.body["partitions"]?.arrayValue ?? []
                var owned: [String: Int] = [:]
                for partition in partitions {
                    if let owner = partition["owner"]?.stringValue { owned[owner, default: 0] += 1 }
                }
                let nodeRows = nodes.map { node -> [String] in
                    let id = node["id"]?.stringValue ?? ""
                    return [
                        id == me ? id + " (this one)" : id, node["live"]?.boolValue == true ? Terminal.paint("live", .green) : "silent",
                        String(owned[id] ?? 0), node["lastHeartbeat"]?.stringValue ?? "",
                    ]
                }
                Terminal.print(Terminal.table(["NODE", "STATE", "PARTITIONS", "LAST HEARTBEAT"], nodeRows))
                Terminal.print("")
                if partitions.isEmpty { return Terminal.print("no command categories yet; publish a module first") }
                let rows = partitions.map { partition -> [String] in
                    [
                        partition["category"]?.stringValue ?? "",
                        "\(partition["partition"]?.integerValue ?? 0)/\(partition["partitions"]?.integerValue ?? 0)",
                        partition["owner"]?.stringValue ?? Terminal.paint("unowned", .red),
                        String(partition["epoch"]?.integerValue ?? 0),
                        partition["position"]?.integerValue.map(String.init) ?? "-",
                        partition["lag"]?.integerValue.map(String.init) ?? "-",
                    ]
                }
                Terminal.print(Terminal.table(["CATEGORY", "PARTITION", "OWNER", "EPOCH", "POSITION", "LAG"], rows))
            }
        }
    }
}
