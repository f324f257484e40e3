import Foundation
import JSON
import TestSupport
import Testing

/// Three `thalo serve` processes on one throwaway PostgreSQL of their own (it is restarted
/// here, so it is not the cluster other tests share).
@Suite("Cluster: nodes on one PostgreSQL", .serialized)
struct ClusterProcessTests {
    static let lease = 3.0
    static let command = "bankAccount:command"

    /// A cluster of nodes under test, and the commands submitted to it.
    final class Cluster: @unchecked Sendable {
        let postgres: TemporaryPostgres
        let url: String
        var nodes: [String: ServerProcess] = [:]
        var submitted: [String] = []
        var accounts: [String] = []

        init() async throws {
            // Durable: PostgreSQL is restarted here as a crash would, and must keep what it committed.
            postgres = try await TemporaryPostgres.start(durable: true)
            try await postgres.createDatabase("cluster")
            url = postgres.url(database: "cluster")
        }

        func start(_ id: String) async throws {
            nodes[id] = try await ServerProcess([
                "--database-url", url, "--node-id", id, "--lease", String(ClusterProcessTests.lease), "--heartbeat", "0.5",
                "--data-dir", try temporaryFolder("node-\(id)").path,
            ])
        }

        func node(_ id: String) -> ServerProcess { nodes[id]! }

        /// The cluster as `node` sees it.
        func status(from id: String) async throws -> JSONValue {
            let response = try await HTTP.get("\(node(id).url)/v1/cluster")
            guard response.status == 200 else { throw HarnessError("GET /v1/cluster: \(response.status) \(response.text)") }
            return response.json
        }

        /// Owner of each command partition (nil when unowned).
        func owners(from id: String) async throws -> [Int64: String?] {
            var owners: [Int64: String?] = [:]
            for partition in try await status(from: id)["partitions"]?.arrayValue ?? []
            where partition["category"]?.stringValue == ClusterProcessTests.command {
                owners[partition["partition"]?.integerValue ?? -1] = partition["owner"]?.stringValue
            }
            return owners
        }

        /// Waits until every partition is owned by one of `live`, each of them holding some and
        /// none more than its share plus one; returns how long it took.
        @discardableResult
        func waitForSpread(over live: [String], asking id: String, timeout: Duration = .seconds(20)) async throws -> Duration {
            let start = ContinuousClock.now
            var last: [Int64: String?] = [:]
            while ContinuousClock.now - start < timeout {
                last = try await owners(from: id)
                var counts: [String: Int] = [:]
                for owner in last.values { if let owner { counts[owner, default: 0] += 1 } }
                let share = (16 + live.count - 1) / live.count
                if last.count == 16, last.values.allSatisfy({ $0 != nil && live.contains($0!) }),
                    live.allSatisfy({ (counts[$0] ?? 0) >= 1 && (counts[$0] ?? 0) <= share + 1 })
                {
                    return ContinuousClock.now - start
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw HarnessError("partitions did not spread over \(live) within \(timeout): \(last)")
        }

        /// Submits one command per account through the given nodes (retrying while the
        /// database is unavailable), remembering each command id.
        func submitRound(_ command: String, _ payload: JSONValue, through ids: [String]) async throws {
            for (index, account) in accounts.enumerated() {
                let server = node(ids[index % ids.count])
                let key = UUID().uuidString.lowercased()
                let deadline = ContinuousClock.now + .seconds(60)
                while true {
                    let response = try? await HTTP.post(
                        "\(server.url)/v1/submit/BankAccount/\(account)/\(command)", payload, headers: ["Idempotency-Key": key])
                    if response?.status == 202 { break }
                    guard ContinuousClock.now < deadline else {
                        throw HarnessError("submit failed: \(response?.status ?? 0) \(response?.text ?? "no answer")")
                    }
                    try await Task.sleep(for: .milliseconds(200))
                }
                submitted.append(key)
            }
        }

        /// Waits until every submitted command wrote its event, then checks that each wrote
        /// exactly one.
        func expectHandledOnce(asking id: String, timeout: Duration = .seconds(60)) async throws {
            let start = ContinuousClock.now
            var counts: [String: Int] = [:]
            while ContinuousClock.now - start < timeout {
                counts = try await eventsPerCommand(asking: id)
                if submitted.allSatisfy({ counts[$0] != nil }) { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            let missing = submitted.filter { counts[$0] == nil }
            #expect(missing.isEmpty, "\(missing.count) of \(submitted.count) submitted commands were not handled")
            if !missing.isEmpty { try await explain(asking: id) }
            let twice = counts.filter { $0.value > 1 }
            #expect(twice.isEmpty, "commands handled more than once: \(twice)")
            #expect(counts.count == submitted.count, "events of commands nobody submitted: \(counts.count) vs \(submitted.count)")
        }

        /// How many events each command id wrote to the bank account category, as `id` reads it.
        func eventsPerCommand(asking id: String) async throws -> [String: Int] {
            var counts: [String: Int] = [:]
            var position: Int64 = 1
            while true {
                let response = try await HTTP.get("\(node(id).url)/v1/categories/bankAccount?position=\(position)&batchSize=10000")
                let page = response.json["messages"]?.arrayValue ?? []
                for message in page {
                    if let command = message["metadata"]?["commandId"]?.stringValue { counts[command, default: 0] += 1 }
                }
                guard page.count == 10000, let last = page.last?["globalPosition"]?.integerValue else { return counts }
                position = last + 1
            }
        }

        /// Prints what a failure needs to be understood: the partitions as `id` sees them, and
        /// the end of each node's log.
        func explain(asking id: String) async throws {
            for partition in try await status(from: id)["partitions"]?.arrayValue ?? [] {
                print("partition: \(partition.jsonText)")
            }
            let commands = try await HTTP.get("\(node(id).url)/v1/categories/bankAccount:command?position=1&batchSize=10000")
            let handled = try await eventsPerCommand(asking: id)
            for message in commands.json["messages"]?.arrayValue ?? [] where handled[message["id"]?.stringValue ?? ""] == nil {
                print("not handled: \(message.jsonText)")
            }
            for (name, node) in nodes.sorted(by: { $0.key < $1.key }) {
                let lines = node.process.output.split(separator: "\n").filter { !$0.contains("[PostgresNIO]") }
                print("== the last lines of node \(name)'s log\n" + lines.suffix(60).joined(separator: "\n"))
            }
        }

        /// Each partition's recorded position.
        func positions(from id: String) async throws -> [Int64: Int64] {
            var positions: [Int64: Int64] = [:]
            for partition in try await status(from: id)["partitions"]?.arrayValue ?? []
            where partition["category"]?.stringValue == ClusterProcessTests.command {
                positions[partition["partition"]?.integerValue ?? -1] = partition["position"]?.integerValue ?? 0
            }
            return positions
        }

        func stopAll() {
            for node in nodes.values { node.kill() }
            postgres.stop()
        }
    }

    @Test("three nodes share the partitions, take over from a killed and from a paused node, and recover from a PostgreSQL restart")
    func failover() async throws {
        let cluster = try await Cluster()
        defer { cluster.stopAll() }
        try await cluster.start("n1")
        try await PostgresProcessTests.publishBankAccount(to: cluster.node("n1"))
        try await cluster.start("n2")
        try await cluster.start("n3")
        try await cluster.waitForSpread(over: ["n1", "n2", "n3"], asking: "n1")

        cluster.accounts = (0..<24).map { "c\($0)" }
        try await cluster.submitRound("open_account", ["initial_balance": 0], through: ["n1", "n2", "n3"])
        try await cluster.expectHandledOnce(asking: "n1")

        // SIGKILL: the node's session lock goes with it, and the others take over at their next heartbeat.
        let killed = try await cluster.owners(from: "n1").filter { $0.value == "n3" }.map(\.key)
        cluster.node("n3").process.signal(SIGKILL)
        _ = await cluster.node("n3").process.wait()
        let takeover = try await cluster.waitForSpread(over: ["n1", "n2"], asking: "n1")
        print("takeover after SIGKILL of n3 (\(killed.count) partitions): \(takeover)")
        #expect(takeover < .seconds(3), "the partitions of a killed node were taken over in \(takeover)")
        try await cluster.submitRound("deposit_funds", ["amount": 1], through: ["n1", "n2"])
        try await cluster.expectHandledOnce(asking: "n1")

        // SIGSTOP past the lease: the session stays, the heartbeats stop; the lease decides.
        let before = try await cluster.positions(from: "n1")
        cluster.node("n2").process.signal(SIGSTOP)
        let paused = try await cluster.waitForSpread(over: ["n1"], asking: "n1", timeout: .seconds(Int64(Self.lease) + 10))
        print("takeover after SIGSTOP of n2: \(paused)")
        try await cluster.submitRound("deposit_funds", ["amount": 2], through: ["n1"])
        try await cluster.expectHandledOnce(asking: "n1")
        cluster.node("n2").process.signal(SIGCONT)
        // It learns at its next heartbeat that its leases are gone, then gets a share again under new epochs.
        try await cluster.waitForSpread(over: ["n1", "n2"], asking: "n1")
        try await cluster.submitRound("deposit_funds", ["amount": 3], through: ["n1", "n2"])
        try await cluster.expectHandledOnce(asking: "n1")
        let after = try await cluster.positions(from: "n1")
        for (partition, position) in before {
            #expect((after[partition] ?? 0) >= position, "partition \(partition) went back from \(position) to \(after[partition] ?? 0)")
        }

        // PostgreSQL restarts: every node reconnects and the partitions are owned again.
        try await cluster.postgres.restart(down: .seconds(1))
        try await cluster.submitRound("deposit_funds", ["amount": 4], through: ["n1", "n2"])
        try await cluster.waitForSpread(over: ["n1", "n2"], asking: "n2", timeout: .seconds(30))
        try await cluster.expectHandledOnce(asking: "n2")
        // Every partition caught up: its recorded position leaves nothing behind.
        let deadline = ContinuousClock.now + .seconds(20)
        var lag: Int64 = -1
        while ContinuousClock.now < deadline {
            let partitions = try await cluster.status(from: "n1")["partitions"]?.arrayValue ?? []
            lag = partitions.reduce(0) { $0 + ($1["lag"]?.integerValue ?? 1) }
            if lag == 0 { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(lag == 0)
        if lag != 0 { try await cluster.explain(asking: "n1") }
    }

    @Test("scale 1 → 3 → 1: the partitions spread and come back, none unowned longer than a lease")
    func scaling() async throws {
        let cluster = try await Cluster()
        defer { cluster.stopAll() }
        try await cluster.start("a")
        try await PostgresProcessTests.publishBankAccount(to: cluster.node("a"))
        try await cluster.waitForSpread(over: ["a"], asking: "a")
        // A second process given a's name stops with a clear error, and a keeps its partitions.
        let twin = try await ThaloBinary.run([
            "serve", "--database-url", cluster.url, "--node-id", "a", "--listen", "127.0.0.1:\(try TemporaryPostgres.freePort())",
            "--data-dir", try temporaryFolder("node-a-twin").path,
        ])
        #expect(twin.status == 1)
        #expect(twin.combined.contains("node id a is in use by a running node"), "\(twin.combined)")
        try await cluster.waitForSpread(over: ["a"], asking: "a")
        cluster.accounts = (0..<16).map { "s\($0)" }
        try await cluster.submitRound("open_account", ["initial_balance": 0], through: ["a"])

        // Watch ownership from node a throughout: the longest time any partition is unowned.
        let watching = Task {
            var unownedSince: [Int64: ContinuousClock.Instant] = [:]
            var longest = Duration.zero
            while !Task.isCancelled {
                if let owners = try? await cluster.owners(from: "a") {
                    let now = ContinuousClock.now
                    for (partition, owner) in owners {
                        if owner == nil {
                            let since = unownedSince[partition] ?? now
                            unownedSince[partition] = since
                            longest = max(longest, now - since)
                        } else {
                            unownedSince[partition] = nil
                        }
                    }
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
            return longest
        }
        try await cluster.start("b")
        try await cluster.start("c")
        try await cluster.waitForSpread(over: ["a", "b", "c"], asking: "a")
        try await cluster.submitRound("deposit_funds", ["amount": 1], through: ["a", "b", "c"])
        try await cluster.expectHandledOnce(asking: "a")
        #expect(await cluster.node("c").stop() == 0)
        #expect(await cluster.node("b").stop() == 0)
        try await cluster.waitForSpread(over: ["a"], asking: "a")
        try await cluster.submitRound("deposit_funds", ["amount": 2], through: ["a"])
        try await cluster.expectHandledOnce(asking: "a")
        watching.cancel()
        let longest = await watching.value
        print("longest time a partition was unowned while scaling: \(longest)")
        #expect(longest < .seconds(Self.lease), "a partition was unowned for \(longest)")
        // The nodes that stopped left the cluster.
        let nodes = try await cluster.status(from: "a")["nodes"]?.arrayValue?.compactMap { $0["id"]?.stringValue }
        #expect(nodes == ["a"])
    }

    @Test("the embedded store is single-node: a second server on one data folder stops with a clear error; /v1/cluster shows one node")
    func embeddedStoreSingleNode() async throws {
        let folder = try temporaryFolder("single")
        let server = try await ServerProcess(["--data-dir", folder.path, "--node-id", "solo"])
        defer { server.kill() }
        try await PostgresProcessTests.publishBankAccount(to: server)
        let second = try await ThaloBinary.run([
            "serve", "--data-dir", folder.path, "--listen", "127.0.0.1:\(try TemporaryPostgres.freePort())",
        ])
        #expect(second.status == 1)
        #expect(second.combined.contains("another thalo serve is running on the data folder"), "\(second.combined)")
        let deadline = ContinuousClock.now + .seconds(10)
        var status = JSONValue.null
        while ContinuousClock.now < deadline {
            status = try await HTTP.get("\(server.url)/v1/cluster").json
            if status["partitions"]?.arrayValue?.isEmpty == false { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(status["node"] == "solo")
        #expect(status["nodes"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["solo"])
        let partition = try #require(status["partitions"]?.arrayValue?.first)
        #expect(partition["category"] == "bankAccount:command")
        #expect(partition["partitions"] == 1)
        #expect(partition["owner"] == "solo")
        let cli = try await ThaloBinary.run(["cluster", "status", "--url", server.url])
        #expect(cli.status == 0)
        #expect(cli.standardOutput.contains("solo (this one)"), "\(cli.combined)")
    }
}
