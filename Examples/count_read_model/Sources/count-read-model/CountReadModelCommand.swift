import ArgumentParser
import CountReadModel
import Foundation
import Logging
import MessageDB
import MessageStore
import MessageStoreSQLite
import ServiceLifecycle
import ThaloRuntime

/// `count-read-model`: keeps `counter_totals` in sync with a Thalo store's counter events.
@main
@available(macOS 10.15, macCatalyst 13, iOS 13, tvOS 13, watchOS 6, *)
struct CountReadModelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "count-read-model",
        abstract: "Keep a table of counter totals in sync with the Counter aggregate's events.",
        discussion: """
            Reads the `counter` category of the store `thalo serve` uses (its SQLite file with
            --data-dir, or PostgreSQL with --database-url), records its position as the consumer
            `countReadModel`, and writes the totals to a SQLite table (--output). Runs until
            Ctrl-C, or with --until-caught-up exits once it has read everything there is.
            """)

    @Option(help: "The data folder of `thalo serve` (its thalo.sqlite).") var dataDir: String = ".thalo"
    @Option(help: "A PostgreSQL URL instead of the embedded store.") var databaseURL: String?
    @Option(help: "The read model's SQLite file.") var output: String = "counter_totals.sqlite"
    @Option(help: "The consumer name for the recorded position.") var name: String = "countReadModel"
    @Option(help: ArgumentHelp("Only this member's share, member/size (e.g. 0/2).", valueName: "m/n")) var consumerGroup: String?
    @Flag(help: "Exit once caught up, after printing the table.") var untilCaughtUp = false
    @Option(
        help: ArgumentHelp(
            "With --database-url: run as this node of a cluster; processes with the same --name divide the category by leases and take over from each other.",
            valueName: "name"))
    var nodeID: String?

    func validate() throws {
        if nodeID != nil && databaseURL == nil { throw ValidationError("--node-id needs --database-url (leases live in PostgreSQL)") }
        if nodeID != nil && (consumerGroup != nil || untilCaughtUp) {
            throw ValidationError("--node-id divides the work by itself: it goes without --consumer-group and --until-caught-up")
        }
    }

    func run() async throws {
        var logger = Logger(label: "count-read-model")
        logger.logLevel = .info
        let totals = try CounterTotals(path: output)
        var group: ConsumerGroup?
        if let consumerGroup {
            let parts = consumerGroup.split(separator: "/").compactMap { Int64($0) }
            guard parts.count == 2 else { throw ValidationError("--consumer-group must be member/size") }
            group = try ConsumerGroup(member: parts[0], size: parts[1])
        }
        if let databaseURL {
            let member = group
            let log = logger
            let node = nodeID
            try await MessageDBStore.withStore(url: databaseURL, logger: log) { store in
                let coordinator = try node.map { try MessageDBCoordinator(store: store, configuration: .init(nodeID: $0), logger: log) }
                try await follow(store: store, totals: totals, group: member, coordinator: coordinator, logger: log)
            }
        } else {
            let path = (dataDir as NSString).appendingPathComponent("thalo.sqlite")
            guard FileManager.default.fileExists(atPath: path) else {
                throw ValidationError("no Thalo store at \(path); start `thalo serve --examples` first or pass --data-dir")
            }
            let store = try SQLiteMessageStore(path: path, logger: logger)
            defer { store.close() }
            try await follow(store: store, totals: totals, group: group, coordinator: nil, logger: logger)
        }
    }

    private func follow<Store: MessageStore>(
        store: Store, totals: CounterTotals, group: ConsumerGroup?, coordinator: (any PartitionCoordinator)?, logger: Logger
    ) async throws {
        let runner = ProjectionRunner(
            store: store, projection: totals, name: name, configuration: .init(consumerGroup: group), coordinator: coordinator,
            logger: logger)
        if untilCaughtUp {
            let task = Task { try await runner.run() }
            // Caught up: the last counter event is in the table (or there is none).
            while true {
                let last = try await store.readCategory(
                    "counter", from: 1, batchSize: -1, correlation: nil, consumerGroup: group, condition: nil
                ).last
                let applied = try totals.rows().map(\.lastGlobalPosition).max() ?? 0
                if last == nil || applied >= last!.globalPosition { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            task.cancel()
            try await task.value
            for row in try totals.rows() { print("\(row.counterID)\t\(row.count)\t(\(row.events) events)") }
        } else {
            print("following the counter category into \(totals.path); Ctrl-C to stop")
            let services = ServiceGroup(
                configuration: .init(services: [runner], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await services.run()
        }
    }
}
