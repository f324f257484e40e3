import AsyncHTTPClient
import ESDL
import Foundation
import GuestBuilder
import JSON
import MessageDB
import MessageStore
import MessageStoreSQLite
import NIOCore
import NIOHTTP1
import Synchronization
import TestSupport
import ThaloRuntime

/// A ~100-byte event payload, as a deposit with some context would have.
let eventData = #"{"amount":100,"currency":"EUR","reference":"invoice-2026-000123","note":"monthly deposit"}"#

/// One raw append, as a measured operation: a deposit to a stream of its own,
/// `{prefix}-{caller}x{index}`, with no expected version.
func rawAppend<Store: MessageStore>(to store: Store, prefix: String) -> @Sendable (Int, Int) async throws -> Void {
    { caller, index in
        try await store.append(
            [NewMessage(type: "Deposited", data: eventData)], to: StreamName(unchecked: "\(prefix)-\(caller)x\(index)"),
            expectedVersion: nil)
    }
}

/// Raw appends and end-to-end executes on one store.
enum StoreCases {
    /// The raw append and execute cases on one store; returns the 10,000-entity execute
    /// measurements by callers.
    @discardableResult
    static func run<Store: MessageStore & ModuleStorage>(
        store make: @Sendable () throws -> Store, name: String, module: BankAccountModule, duration: Duration, report: Report,
        raw: inout [Int: Measurement]
    ) async throws -> [Int: Measurement] {
        let rawStore = try make()
        for callers in [1, 8] {
            let before = (rawStore as? SQLiteMessageStore)?.groupStatistics
            let result = try await measure(callers: callers, duration: duration, rawAppend(to: rawStore, prefix: "raw\(callers)"))
            if let before, let after = (rawStore as? SQLiteMessageStore)?.groupStatistics {
                print(
                    "  writes per commit: \(format(Double(after.writes - before.writes) / Double(max(1, after.commits - before.commits)), 2))"
                )
            }
            raw[callers] = result
            report.add(["raw append", name, "\(callers)", formatRate(result.throughput), format(result.p50), format(result.p99), "1.00"])
        }
        return try await executeCases(
            store: try make(), name: name, module: module, duration: duration, report: report, raw: raw,
            rawAppend: rawAppend(to: rawStore, prefix: "interleaved"))
    }

    /// Raw append with 8 writers on a store whose writer checkpoints in the commit that
    /// crossed the threshold (SQLite's default), against the default background checkpoints.
    static func checkpointsInTheCommit(folder: URL, duration: Duration, report: Report, raw: Measurement?) async throws {
        let store = try SQLiteMessageStore(
            configuration: .init(
                path: folder.appendingPathComponent("raw-in-commit.sqlite").path, checkpointsInBackground: false),
            logger: quiet)
        let result = try await measure(callers: 8, duration: duration, rawAppend(to: store, prefix: "raw"))
        let ratio = raw.map { result.throughput / $0.throughput } ?? 0
        report.add([
            "raw append, checkpoints in the commit", "SQLite", "8", formatRate(result.throughput), format(result.p50),
            format(result.p99), format(ratio, 2),
        ])
    }

    /// Raw append with 8 writers of messages with time-ordered ids (``UUID/timeOrdered(at:)``,
    /// as the events of a command sent without an id have), against raw append's random
    /// (version 4) ids, which is what Message DB clients write: what the index of ids costs.
    static func timeOrderedIDs(folder: URL, duration: Duration, report: Report, raw: Measurement?) async throws {
        let store = try SQLiteMessageStore(path: folder.appendingPathComponent("raw-time-ordered.sqlite").path, logger: quiet)
        let result = try await measure(callers: 8, duration: duration) { caller, index in
            try await store.append(
                [NewMessage(id: .timeOrdered(), type: "Deposited", data: eventData)],
                to: StreamName(unchecked: "raw-\(caller)x\(index)"), expectedVersion: nil)
        }
        let ratio = raw.map { result.throughput / $0.throughput } ?? 0
        report.add([
            "raw append, time-ordered ids", "SQLite", "8", formatRate(result.throughput), format(result.p50), format(result.p99),
            format(ratio, 2),
        ])
    }

    static func runPostgres(
        server: TemporaryPostgres, module: BankAccountModule, duration: Duration, report: Report, raw: inout [Int: Measurement]
    ) async throws {
        try await server.createDatabase("bench")
        raw = try await MessageDBStore.withStore(url: server.url(database: "bench"), logger: quiet) { store in
            try await MessageDBInstaller.install(on: store, logger: quiet)
            var results: [Int: Measurement] = [:]
            for callers in [1, 8] {
                let result = try await measure(callers: callers, duration: duration) { caller, index in
                    try await store.writeMessage(
                        NewMessage(type: "Deposited", data: eventData), to: StreamName(unchecked: "raw\(callers)-\(caller)x\(index)"))
                }
                results[callers] = result
                report.add([
                    "raw write_message", "PostgreSQL", "\(callers)", formatRate(result.throughput), format(result.p50), format(result.p99),
                    "1.00",
                ])
            }
            // The hot entity's baseline: write_message to one stream that grows by every write
            // (Message DB finds the stream's version and takes the category's lock each time).
            for callers in [1, 8] {
                let result = try await measure(callers: callers, duration: duration) { _, _ in
                    try await store.writeMessage(
                        NewMessage(type: "Deposited", data: eventData), to: StreamName(unchecked: "rawhot-\(callers)"))
                }
                let ratio = results[callers].map { result.throughput / $0.throughput } ?? 0
                report.add([
                    "raw write_message, one stream", "PostgreSQL", "\(callers)", formatRate(result.throughput), format(result.p50),
                    format(result.p99), format(ratio, 2),
                ])
            }
            // What the runtime's append costs: write_message with an expected version, and the
            // global position and time read back with get_stream_messages in the same statement.
            for callers in [1, 8] {
                let result = try await measure(callers: callers, duration: duration) { caller, index in
                    _ = try await store.append(
                        [NewMessage(type: "Deposited", data: eventData)], to: StreamName(unchecked: "append\(callers)-\(caller)x\(index)"),
                        expectedVersion: .noStream)
                }
                let ratio = results[callers].map { result.throughput / $0.throughput } ?? 0
                report.add([
                    "store append (expected version, positions read back)", "PostgreSQL", "\(callers)", formatRate(result.throughput),
                    format(result.p50), format(result.p99), format(ratio, 2),
                ])
            }
            try await executeCases(
                store: store, name: "PostgreSQL", module: module, duration: duration, report: report, raw: results,
                rawAppend: { _, _ in
                    try await store.writeMessage(
                        NewMessage(type: "Deposited", data: eventData), to: StreamName(unchecked: "rawi-\(UUID().uuidString)"))
                },
                storeAppend: { _, _ in
                    _ = try await store.append(
                        [NewMessage(type: "Deposited", data: eventData)], to: StreamName(unchecked: "appendi-\(UUID().uuidString)"),
                        expectedVersion: .noStream)
                })
            return results
        }
    }

    /// `deposit_funds` through the in-process runtime, on 10,000 entities and on one hot entity.
    /// Runs the execute cases and returns the measurements of the 10,000-entity case by callers.
    /// With `rawAppend`, the cases run again in turns with it (and with `storeAppend`, the
    /// store's own append, when given), each ratio taken to `rawAppend` in the same slices.
    @discardableResult
    static func executeCases<Store: MessageStore & ModuleStorage>(
        store: Store, name: String, module: BankAccountModule, duration: Duration, report: Report, raw: [Int: Measurement],
        rawAppend: (@Sendable (Int, Int) async throws -> Void)? = nil, storeAppend: (@Sendable (Int, Int) async throws -> Void)? = nil
    ) async throws -> [Int: Measurement] {
        var spread: [Int: Measurement] = [:]
        /// A deposit of 1 on the entity `id(caller, index)` names.
        func deposit(_ runtime: Runtime<Store>, _ id: @escaping @Sendable (Int, Int) -> String)
            -> @Sendable (Int, Int) async throws
            -> Void
        {
            { caller, index in
                _ = try await runtime.execute(
                    CommandRequest(aggregate: "BankAccount", id: id(caller, index), command: "deposit_funds", payload: ["amount": 1]))
            }
        }
        let runtime = Runtime(store: store, configuration: RuntimeConfiguration(consumesCommands: false), logger: quiet)
        try await runtime.publish(schema: module.schema, wasm: module.wasm)
        let entities = 10_000
        print("  opening \(entities) accounts…")
        try await forEachConcurrently(entities, callers: 8) { index in
            _ = try await runtime.execute(
                CommandRequest(aggregate: "BankAccount", id: "a\(index)", command: "open_account", payload: ["initial_balance": 0]))
        }
        _ = try await runtime.execute(
            CommandRequest(aggregate: "BankAccount", id: "hot", command: "open_account", payload: ["initial_balance": 0]))
        // The baseline for batches: the same hot entity case on a runtime that runs one
        // command at a time (what modules of contract 1.1 get).
        let unbatched = Runtime(
            store: store, configuration: RuntimeConfiguration(consumesCommands: false, maximumBatchSize: 1), logger: quiet)
        _ = try await unbatched.execute(
            CommandRequest(aggregate: "BankAccount", id: "hot-unbatched", command: "open_account", payload: ["initial_balance": 0]))
        let unbatchedResult = try await measure(callers: 8, duration: duration) { _, _ in
            _ = try await unbatched.execute(
                CommandRequest(aggregate: "BankAccount", id: "hot-unbatched", command: "deposit_funds", payload: ["amount": 1]))
        }
        let spreadID: @Sendable (Int, Int) -> String = { caller, index in "a\((caller * 7919 + index) % entities)" }
        for (label, hot) in [("execute, 10,000 entities", false), ("execute, one hot entity", true)] {
            for callers in [1, 8] {
                let before = await runtime.batchStatistics()
                let result = try await measure(
                    callers: callers, duration: duration, deposit(runtime) { caller, index in hot ? "hot" : spreadID(caller, index) })
                let ratio = raw[callers].map { result.throughput / $0.throughput } ?? 0
                report.add([
                    label, name, "\(callers)", formatRate(result.throughput), format(result.p50), format(result.p99), format(ratio, 2),
                ])
                if !hot { spread[callers] = result }
                if hot && callers == 8 {
                    let ratio = raw[8].map { unbatchedResult.throughput / $0.throughput } ?? 0
                    report.add([
                        "execute, one hot entity, batches off", name, "8", formatRate(unbatchedResult.throughput),
                        format(unbatchedResult.p50), format(unbatchedResult.p99), format(ratio, 2),
                    ])
                }
                let after = await runtime.batchStatistics()
                let batches = after.batches - before.batches
                if batches > 0 {
                    let commands = after.commands - before.commands
                    let appends = after.appends - before.appends
                    print(
                        "  \(label), \(callers) callers: \(commands) of \(result.operations) commands ran in \(batches) batches "
                            + "(\(format(Double(commands) / Double(batches), 1)) per batch), written in \(appends) appends "
                            + "(\(format(Double(commands) / Double(max(1, appends)), 1)) commands per append)")
                }
            }
        }
        if let rawAppend {
            // The target ratios again, each case taking turns with raw append in short slices:
            // the disk's speed drifts during a run (by a factor of two on some machines), and
            // cases measured one after the other meet different disks. The hot entity also
            // takes turns with a runtime that waits for each batch's append before deciding
            // the next (the pipeline off).
            let serial = Runtime(
                store: store, configuration: RuntimeConfiguration(consumesCommands: false, pipelinesBatches: false), logger: quiet)
            _ = try await serial.execute(
                CommandRequest(aggregate: "BankAccount", id: "hot-serial", command: "open_account", payload: ["initial_balance": 0]))
            for callers in [1, 8] {
                var cases: [(String, @Sendable (Int, Int) async throws -> Void)] = [
                    ("raw append, interleaved", rawAppend)
                ]
                if let storeAppend {
                    cases.append(("store append (expected version, positions read back), interleaved", storeAppend))
                }
                cases += [
                    ("execute, 10,000 entities, interleaved", deposit(runtime, spreadID)),
                    ("execute, one hot entity, interleaved", deposit(runtime) { _, _ in "hot" }),
                ]
                if callers == 8 {
                    cases.append(("execute, one hot entity, interleaved, pipeline off", deposit(serial) { _, _ in "hot-serial" }))
                }
                let results = try await measureInterleaved(callers: callers, duration: duration * 2, cases.map(\.1))
                for ((label, _), result) in zip(cases, results) {
                    report.add([
                        label, name, "\(callers)", formatRate(result.throughput), format(result.p50), format(result.p99),
                        format(result.throughput / results[0].throughput, 2),
                    ])
                }
            }
        }
        return spread
    }
}

/// One `handle` call in wasm against the same logic in native Swift.
enum WasmCost {
    /// The bank account's deposit rule, natively: read the payload, check, write the event.
    struct NativeBankAccount {
        var isOpen = true
        var balance: Int64 = 0

        func handleDepositFunds(payload: String) throws -> String {
            let value = try JSONValue(parsing: payload)
            guard let amount = value["amount"]?.integerValue, let amount32 = Int32(exactly: amount) else {
                throw BenchmarkError("bad payload")
            }
            guard isOpen else { throw BenchmarkError("account is not open") }
            guard amount32 >= 0 else { throw BenchmarkError("amount cannot be negative") }
            return JSONValue.object(["amount": .integer(Int64(amount32))]).jsonText
        }
    }

    static func run(module: BankAccountModule) throws -> String {
        print("wasm cost: one handle call (deposit_funds)")
        let guest = try GuestInstance(module: module.module)
        let entity = try guest.newEntity(id: "cost")
        let context = GuestContext(
            id: UUID().lowercasedText, streamName: "bankAccount:command-cost", position: -1, globalPosition: -1, metadata: "{}", time: 0)
        _ = try guest.apply(
            entity, events: [GuestRecordedEvent(type: "OpenedAccount", payload: #"{"initial_balance":0}"#, context: context)])
        let calls = 200_000
        var wasm: [Double] = []
        wasm.reserveCapacity(calls)
        for _ in 0..<calls {
            let start = ContinuousClock.now
            let result = try guest.handle(entity, command: "deposit_funds", payload: #"{"amount":1}"#, context: context)
            wasm.append(microseconds(ContinuousClock.now - start) * 1000)
            guard case .success = result else { throw BenchmarkError("handle failed: \(result)") }
        }
        let native = NativeBankAccount()
        var swift: [Double] = []
        swift.reserveCapacity(calls)
        var sink = 0
        for _ in 0..<calls {
            let start = ContinuousClock.now
            sink &+= try native.handleDepositFunds(payload: #"{"amount":1}"#).utf8.count
            swift.append(microseconds(ContinuousClock.now - start) * 1000)
        }
        precondition(sink > 0)
        wasm.sort()
        swift.sort()
        let report = Report(header: ["implementation", "median ns", "p99 ns", "calls/s (1 core)"])
        let wasmMedian = wasm[calls / 2]
        let swiftMedian = swift[calls / 2]
        report.add([
            "bank_account.wasm in WasmKit (handle, incl. argument copy and result checks)", format(wasmMedian),
            format(wasm[calls * 99 / 100]), formatRate(1e9 / wasmMedian),
        ])
        report.add([
            "same logic, native Swift (JSON in, JSON out)", format(swiftMedian), format(swift[calls * 99 / 100]),
            formatRate(1e9 / swiftMedian),
        ])
        return "### One handle call (\(formatRate(Double(calls))) calls each; wasm is \(format(wasmMedian / swiftMedian, 1))× native)\n\n"
            + report.markdown
    }
}

/// The same aggregates written in Swift, C and Rust: module size, build time and one
/// `handle` call.
enum GuestLanguages {
    struct Guest {
        var aggregate: String
        var language: String
        var folder: String
        var command: String
        var payload: String
        /// Events applied before measuring (type, payload).
        var given: [(String, String)]
        var optimization: GuestBuilder.Configuration.Optimization = .size
    }

    static let guests: [Guest] = [
        Guest(
            aggregate: "Counter", language: "Swift", folder: "Examples/counter", command: "increment", payload: #"{"amount":1}"#, given: []),
        Guest(
            aggregate: "Counter", language: "C", folder: "Examples/c_counter", command: "increment", payload: #"{"amount":1}"#, given: []),
        Guest(
            aggregate: "Counter", language: "Rust", folder: "Benchmarks/guests/counter_rust", command: "increment",
            payload: #"{"amount":1}"#, given: []),
        Guest(
            aggregate: "BankAccount", language: "Swift", folder: "Examples/bank_account", command: "deposit_funds",
            payload: #"{"amount":1}"#, given: [("OpenedAccount", #"{"initial_balance":0}"#)]),
        Guest(
            aggregate: "BankAccount", language: "Rust", folder: "Examples/bank_account_rust", command: "deposit_funds",
            payload: #"{"amount":1}"#, given: [("OpenedAccount", #"{"initial_balance":0}"#)]),
        Guest(
            aggregate: "BankAccount", language: "Rust", folder: "Examples/bank_account_rust", command: "deposit_funds",
            payload: #"{"amount":1}"#, given: [("OpenedAccount", #"{"initial_balance":0}"#)], optimization: .speed),
    ]

    static func run() async throws -> String {
        let calls = 100_000
        let report = Report(
            header: ["aggregate", "language", "optimization", "module bytes", "build s", "handle median ns", "p99 ns", "vs Swift"])
        var swiftMedian: [String: Double] = [:]
        for guest in guests {
            print("guest languages: \(guest.aggregate) in \(guest.language)")
            let clock = ContinuousClock()
            let start = clock.now
            let result = try await GuestBuilder(
                configuration: .init(optimization: guest.optimization, outputDirectory: try temporaryFolder("bench-languages"))
            )
            .build(directory: BankAccountModule.repositoryRoot.appendingPathComponent(guest.folder))
            let buildSeconds = microseconds(clock.now - start) / 1e6
            let wasm = try [UInt8](Data(contentsOf: result.wasmURL))
            let module = try AggregateModule(name: guest.aggregate, version: result.schema.version, schema: result.schema, bytes: wasm)
            let instance = try GuestInstance(module: module)
            let entity = try instance.newEntity(id: "bench")
            let context = GuestContext(
                id: UUID().lowercasedText, streamName: "bench:command-1", position: -1, globalPosition: -1, metadata: "{}", time: 0)
            if !guest.given.isEmpty {
                _ = try instance.apply(entity, events: guest.given.map { GuestRecordedEvent(type: $0.0, payload: $0.1, context: context) })
            }
            for _ in 0..<calls / 10 {  // warm-up, not measured
                _ = try instance.handle(entity, command: guest.command, payload: guest.payload, context: context)
            }
            var times: [Double] = []
            times.reserveCapacity(calls)
            for _ in 0..<calls {
                let start = clock.now
                let outcome = try instance.handle(entity, command: guest.command, payload: guest.payload, context: context)
                times.append(microseconds(clock.now - start) * 1000)
                guard case .success(let events) = outcome, events.count == 1 else { throw BenchmarkError("handle failed: \(outcome)") }
            }
            times.sort()
            let median = times[calls / 2]
            if guest.language == "Swift" { swiftMedian[guest.aggregate] = median }
            let ratio = swiftMedian[guest.aggregate].map { format(median / $0, 2) } ?? "-"
            report.add([
                guest.aggregate, guest.language, guest.optimization.rawValue, "\(wasm.count)", format(buildSeconds, 1), format(median),
                format(times[calls * 99 / 100]), ratio,
            ])
        }
        return "### Guest languages (\(formatRate(Double(calls))) handle calls each, one instance, WasmKit)\n\n" + report.markdown
    }
}

/// Loading a cold entity: the first command on a long stream, replayed from its events or
/// restored from a snapshot; and a time travel view.
enum Rebuild {
    /// Writes an opened account with `events` events in all to `bankAccount-{id}`.
    static func seed(_ store: SQLiteMessageStore, id: String, events: Int) async throws {
        var metadata = Metadata(causationMessageStreamName: "bankAccount:command-\(id)", schemaVersion: "0.1.0")
        metadata.properties = ["moduleName": "BankAccount", "moduleVersion": "0.1.0"]
        let stream = StreamName(category: "bankAccount", id: id)
        try await store.write(NewMessage(type: "OpenedAccount", data: ["initial_balance": 0], metadata: metadata), to: stream)
        var batch: [NewMessage] = []
        for index in 1..<events {
            var eventMetadata = metadata
            eventMetadata.properties["commandId"] = .string(UUID().lowercasedText)
            batch.append(NewMessage(type: "DepositedFunds", data: ["amount": 1], metadata: eventMetadata))
            if batch.count == 1000 || index == events - 1 {
                try await store.write(batch, to: stream)
                batch = []
            }
        }
    }

    /// Median milliseconds of the first command on the entity, each time in a new runtime
    /// (nothing cached), with snapshots every `snapshotEvery` events (0: none).
    static func firstCommand(_ store: SQLiteMessageStore, id: String, snapshotEvery: Int, runs: Int) async throws -> Double {
        var times: [Double] = []
        for _ in 0..<runs {
            let runtime = Runtime(store: store, configuration: RuntimeConfiguration(snapshotEvery: snapshotEvery), logger: quiet)
            let start = ContinuousClock.now
            _ = try await runtime.execute(
                CommandRequest(aggregate: "BankAccount", id: id, command: "withdraw_funds", payload: ["amount": 0]))
            times.append(microseconds(ContinuousClock.now - start) / 1000)
        }
        return times.sorted()[runs / 2]
    }

    static func run(module: BankAccountModule) async throws -> String {
        print("rebuild: cold entities of 1,000, 10,000 and 100,000 events, without and with snapshots")
        let folder = try temporaryFolder("bench-rebuild")
        let store = try SQLiteMessageStore(path: folder.appendingPathComponent("rebuild.sqlite").path, logger: quiet)
        defer { store.close() }
        try await Runtime(store: store, logger: quiet).publish(schema: module.schema, wasm: module.wasm)
        let report = Report(header: ["events", "first command, no snapshot (ms)", "first command, snapshot (ms)", "speed-up"])
        var viewTime = 0.0
        for events in [1_000, 10_000, 100_000] {
            let id = "r\(events)"
            try await seed(store, id: id, events: events)
            let runs = events >= 100_000 ? 5 : 7
            let without = try await firstCommand(store, id: id, snapshotEvery: 0, runs: runs)
            // One load with snapshots on writes the first snapshot (off the command path).
            let writer = Runtime(store: store, configuration: RuntimeConfiguration(snapshotEvery: 100), logger: quiet)
            _ = try await writer.execute(
                CommandRequest(aggregate: "BankAccount", id: id, command: "withdraw_funds", payload: ["amount": 0]))
            await writer.snapshotsSettled()
            let snapshot = try await store.lastMessage(in: StreamName(category: "bankAccount", id: id, types: ["snapshot"]))
            precondition(snapshot != nil, "no snapshot of \(id) was written")
            let with = try await firstCommand(store, id: id, snapshotEvery: 100, runs: runs)
            report.add(["\(formatRate(Double(events)))", format(without, 1), format(with, 2), format(without / with, 1) + "×"])
            print("  \(events) events: \(format(without, 1)) ms without, \(format(with, 2)) ms with a snapshot")
            if events == 10_000 {
                var times: [Double] = []
                let runtime = Runtime(store: store, logger: quiet)
                for _ in 0..<7 {
                    let start = ContinuousClock.now
                    let view = try await runtime.entity(aggregate: "BankAccount", id: id)
                    times.append(microseconds(ContinuousClock.now - start) / 1000)
                    precondition(view.events.count >= events)
                }
                viewTime = times.sorted()[3]
            }
        }
        return "### Rebuild (embedded store, median of 7; 5 at 100,000)\n\n"
            + "The first command on an entity nobody has loaded yet (a new runtime each time): read, apply, handle, write.\n\n"
            + report.markdown
            + "\n\nTime travel view of the 10,000-event entity (read every event, apply to a fresh entity, state): \(format(viewTime, 1)) ms."
    }
}

/// Resident memory per cached entity.
enum Memory {
    static func run(module: BankAccountModule) async throws -> String {
        print("memory: 100,000 live bank_account entities")
        let folder = try temporaryFolder("bench-memory")
        let store = try SQLiteMessageStore(
            configuration: .init(path: folder.appendingPathComponent("memory.sqlite").path, synchronous: .normal), logger: quiet)
        defer { store.close() }
        let runtime = Runtime(
            store: store, configuration: RuntimeConfiguration(cacheCapacity: 200_000, consumesCommands: false), logger: quiet)
        try await runtime.publish(schema: module.schema, wasm: module.wasm)
        let entities = 100_000
        // Warm up allocator, store and instances with a few entities first.
        for index in 0..<1_000 {
            _ = try await runtime.execute(
                CommandRequest(aggregate: "BankAccount", id: "w\(index)", command: "open_account", payload: ["initial_balance": 1]))
        }
        let before = residentBytes()
        try await forEachConcurrently(entities, callers: 8) { index in
            _ = try await runtime.execute(
                CommandRequest(aggregate: "BankAccount", id: "m\(index)", command: "open_account", payload: ["initial_balance": 1]))
        }
        let after = residentBytes()
        let perEntity = Double(after - before) / Double(entities)
        let report = Report(header: ["live entities", "RSS before", "RSS after", "bytes per entity"])
        report.add([formatRate(Double(entities)), "\(before / 1_048_576) MiB", "\(after / 1_048_576) MiB", format(perEntity)])
        return "### Memory per cached entity (process RSS delta, including the store's and allocator's share)\n\n" + report.markdown
    }
}

/// A million calls on one guest: its memory must not grow.
enum Soak {
    static func run(module: BankAccountModule) throws -> String {
        print("soak: a million calls (handle and apply alternating)")
        let guest = try GuestInstance(module: module.module)
        let entity = try guest.newEntity(id: "soak")
        let context = GuestContext(
            id: UUID().lowercasedText, streamName: "bankAccount:command-soak", position: -1, globalPosition: -1, metadata: "{}", time: 0)
        _ = try guest.apply(
            entity, events: [GuestRecordedEvent(type: "OpenedAccount", payload: #"{"initial_balance":0}"#, context: context)])
        let start = ContinuousClock.now
        var after1000 = 0
        for index in 0..<500_000 {
            let events = try guest.handle(entity, command: "deposit_funds", payload: #"{"amount":1}"#, context: context).get()
            let recorded = GuestRecordedEvent(
                type: events[0].type, payload: events[0].payload,
                context: GuestContext(
                    id: context.id, streamName: "bankAccount-soak", position: Int64(index + 1), globalPosition: Int64(index + 2),
                    metadata: "{}", time: 0))
            if let error = try guest.apply(entity, events: [recorded]) { throw BenchmarkError("apply failed: \(error)") }
            if index == 500 { after1000 = guest.memoryBytes }
        }
        let seconds = microseconds(ContinuousClock.now - start) / 1_000_000
        let report = Report(header: ["calls", "seconds", "memory after 1,000 calls", "memory after 1,000,000 calls"])
        report.add(["1,000,000", format(seconds, 1), "\(after1000) bytes", "\(guest.memoryBytes) bytes"])
        return "### Guest memory over a million calls\n\n" + report.markdown
    }
}

/// Commands over HTTP against a `thalo serve` process, loaded by `wrk` (an outside load
/// generator, two threads), with each durability level.
enum HTTPCase {
    static func run(module: BankAccountModule, duration: Duration, rawSQLite: Measurement?) async throws -> String {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("thalo").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw BenchmarkError("build thalo first: swift build -c release --product thalo (looked for \(binary))")
        }
        guard let wrk = await ProcessRunner.which("wrk") else {
            throw BenchmarkError("the HTTP case needs wrk (Debian package wrk; scripts/bench installs it)")
        }
        let script = ExampleModules.repositoryRoot.appendingPathComponent("Benchmarks/wrk/deposit.lua").path
        let seconds = max(1, Int(duration.components.seconds))
        let report = Report(header: [
            "case", "durability", "connections", "requests/s", "p50 µs", "p99 µs", "server CPU µs per request (cores busy)",
            "vs raw append (SQLite, 8 writers, full)",
        ])
        for durability in ["full", "os"] {
            print("through the server: thalo serve --durability \(durability) (embedded store), wrk")
            let port = try TemporaryPostgres.freePort()
            let folder = try temporaryFolder("bench-http")
            let server = try await BackgroundProcess(
                binary,
                [
                    "serve", "--listen", "127.0.0.1:\(port)", "--data-dir", folder.path, "--log-level", "warning", "--durability",
                    durability,
                ],
                logPath: folder.appendingPathComponent("serve.log").path)
            defer { server.signal(SIGKILL) }
            let base = "http://127.0.0.1:\(port)"
            var ready = false
            for _ in 0..<200 where !ready {
                ready = (try? await post("\(base)/health", nil, method: .GET)) == 200
                if !ready { try await Task.sleep(for: .milliseconds(50)) }
            }
            guard ready else { throw BenchmarkError("thalo serve did not start: \(server.output)") }
            let published = try await post(
                "\(base)/v1/modules", .object(["schema": .string(module.schema), "wasm": .string(Data(module.wasm).base64EncodedString())]))
            guard published == 201 else { throw BenchmarkError("publish failed: \(published)") }
            try await forEachConcurrently(10_000, callers: 8) { index in
                let status = try await post("\(base)/v1/execute/BankAccount/h\(index)/open_account", ["initial_balance": 0])
                if status != 200 { throw BenchmarkError("HTTP \(status) opening an account") }
            }
            for connections in [8, 64] {
                let result = try await Wrk.run(
                    wrk, ["-t2", "-c\(connections)", "-d\(seconds)s", "--latency", "-s", script, base], seconds: seconds,
                    server: server.pid)
                report.add([
                    "POST /v1/execute deposit_funds, 10,000 entities", durability, "\(connections)", formatRate(result.throughput),
                    format(result.p50), format(result.p99), result.cpu.text,
                    rawSQLite.map { format(result.throughput / $0.throughput, 2) } ?? "–",
                ])
            }
            if durability == "full" {
                try await inTurns(wrk: wrk, script: script, base: base, server: server.pid, seconds: seconds, report: report)
                // What the server answers when nothing is written: the ceiling of the HTTP layer.
                let health = try await Wrk.run(
                    wrk, ["-t2", "-c64", "-d\(seconds)s", "--latency", "\(base)/health"], seconds: seconds, server: server.pid)
                report.add([
                    "GET /health (nothing written)", "–", "64", formatRate(health.throughput), format(health.p50), format(health.p99),
                    health.cpu.text, "–",
                ])
            }
        }
        return "### Through the server (HTTP, wrk with 2 threads)\n\n" + report.markdown
    }

    /// Target 1's ratio with both sides meeting the same machine: raw append with 8 writers
    /// (in this process, on an embedded store of its own) and wrk at 64 connections against
    /// the server take turns, `rounds` times `seconds` each; raw append's figure is its
    /// appends over its seconds, wrk's the mean of its rounds' rates (rounds of equal
    /// length). The machine's speed drifts by a third within minutes (`GET /health` from
    /// 27,600 to 37,000/s), which skews a ratio between figures measured minutes apart.
    static func inTurns(
        wrk: String, script: String, base: String, server: pid_t, seconds: Int, report: Report, rounds: Int = 3
    ) async throws {
        print("  in turns with raw append: \(rounds) rounds of \(seconds) s each")
        let folder = try temporaryFolder("bench-http-turns")
        let rawStore = try SQLiteMessageStore(path: folder.appendingPathComponent("raw.sqlite").path, logger: quiet)
        defer { rawStore.close() }
        var raw = Measurement(operations: 0, seconds: 0, latencies: [])
        var rates: [Double] = []
        var p50s: [Double] = []
        var p99s: [Double] = []
        var cpu = ServerCPU()
        let append = rawAppend(to: rawStore, prefix: "turns")
        for round in 0..<rounds {
            let part = try await measure(callers: 8, duration: .seconds(seconds), warmup: .milliseconds(round == 0 ? 500 : 50)) {
                caller, index in try await append(caller, index + round * 1_000_000)
            }
            raw.operations += part.operations
            raw.seconds += part.seconds
            raw.latencies += part.latencies
            let served = try await Wrk.run(
                wrk, ["-t2", "-c64", "-d\(seconds)s", "--latency", "-s", script, base], seconds: seconds, server: server)
            cpu.add(served.cpu)
            rates.append(served.throughput)
            p50s.append(served.p50)
            p99s.append(served.p99)
        }
        raw.latencies.sort()
        let served = rates.reduce(0, +) / Double(rates.count)
        report.add([
            "raw append, 8 writers, in turns with the row below", "full", "–", formatRate(raw.throughput), format(raw.p50),
            format(raw.p99), "–", "1.00",
        ])
        report.add([
            "POST /v1/execute deposit_funds, 10,000 entities, in turns (p50, p99: median and worst round)", "full", "64",
            formatRate(served), format(p50s.sorted()[p50s.count / 2]), format(p99s.max() ?? 0),
            cpu.text, format(served / raw.throughput, 2),
        ])
    }

    static func post(_ url: String, _ body: JSONValue?, method: HTTPMethod = .POST) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body.jsonText))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }
}

/// The CPU time (user and system) a server used while it answered some requests.
struct ServerCPU {
    var seconds = 0.0
    var requests = 0.0
    var elapsed = 0.0

    mutating func add(_ other: ServerCPU) {
        seconds += other.seconds
        requests += other.requests
        elapsed += other.elapsed
    }

    /// The CPU time per request in µs, and the cores kept busy on average.
    var text: String {
        guard seconds > 0, requests > 0, elapsed > 0 else { return "–" }
        return "\(format(seconds / requests * 1_000_000)) (\(format(seconds / elapsed, 2)))"
    }
}

/// Runs `wrk` and reads its figures.
enum Wrk {
    struct Result {
        var throughput: Double
        var p50: Double
        var p99: Double
        /// The requests answered, the seconds they took, and (with a server) its CPU time.
        var cpu: ServerCPU
    }

    /// With the deposit script, the figures come from its `wrk-result` line (and errors fail
    /// the case); without a script, from wrk's own summary. With `server`, the CPU time that
    /// process used during the run is read from `/proc` before and after.
    static func run(_ wrk: String, _ arguments: [String], seconds: Int, server: pid_t? = nil) async throws -> Result {
        let cpuBefore = server.flatMap(cpuSeconds(of:))
        var result = try await summary(of: wrk, arguments, seconds: seconds)
        if let server, let cpuBefore, let cpuAfter = cpuSeconds(of: server) { result.cpu.seconds = cpuAfter - cpuBefore }
        return result
    }

    /// A process's user and system CPU seconds so far (`/proc/<pid>/stat`, fields 14 and 15
    /// in clock ticks), or nil where that cannot be read.
    static func cpuSeconds(of pid: pid_t) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let end = stat.lastIndex(of: ")")
        else { return nil }
        // The fields after the command name, which may hold spaces: state is field 3.
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    private static func summary(of wrk: String, _ arguments: [String], seconds: Int) async throws -> Result {
        let output = try await ProcessRunner.output(wrk, arguments)
        guard output.status == 0 else { throw BenchmarkError("wrk failed: \(output.combined)") }
        if let values = figures(in: output.standardOutput, line: "wrk-result") {
            guard let requests = values["requests"], let elapsed = values["seconds"], elapsed > 0 else {
                throw BenchmarkError("wrk printed no result: \(output.combined)")
            }
            if let errors = values["errors"], errors > 0 {
                throw BenchmarkError("\(Int(errors)) of \(Int(requests)) requests failed under wrk \(arguments.joined(separator: " "))")
            }
            return Result(
                throughput: requests / elapsed, p50: values["p50_us"] ?? 0, p99: values["p99_us"] ?? 0,
                cpu: ServerCPU(requests: requests, elapsed: elapsed))
        }
        // "Requests/sec:  25600.12" and the --latency distribution ("50%  1.23ms").
        func figure(after label: String) -> String? {
            output.standardOutput.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(label) }
                .flatMap { $0.split(separator: " ", omittingEmptySubsequences: true).last.map(String.init) }
        }
        func microseconds(_ text: String?) -> Double {
            guard let text else { return 0 }
            for (unit, scale) in [("us", 1.0), ("ms", 1_000.0), ("s", 1_000_000.0)] where text.hasSuffix(unit) {
                return (Double(text.dropLast(unit.count)) ?? 0) * scale
            }
            return 0
        }
        guard let rate = figure(after: "Requests/sec:").flatMap(Double.init) else {
            throw BenchmarkError("wrk printed no Requests/sec: \(output.combined)")
        }
        return Result(
            throughput: rate, p50: microseconds(figure(after: "50%")), p99: microseconds(figure(after: "99%")),
            cpu: ServerCPU(requests: rate * Double(seconds), elapsed: Double(seconds)))
    }
}

/// The peer: the same deposit command on Python `eventsourcing` with SQLite, in this run.
enum PeerCase {
    static func run(duration: Duration, thalo: [Int: Measurement]) async throws -> String {
        print("peer: Python eventsourcing \(PythonEnvironment.eventsourcingVersion) on SQLite (durable defaults)")
        let python = try await PythonEnvironment.shared.eventsourcing()
        let script = ExampleModules.repositoryRoot.appendingPathComponent("Benchmarks/peer/eventsourcing_bank.py").path
        let seconds = Double(duration.components.seconds)
        let report = Report(header: [
            "case", "threads", "commands/s", "p50 µs", "p99 µs", "Thalo execute, SQLite (same callers)", "Thalo / eventsourcing",
        ])
        for threads in [1, 8] {
            let output = try await ProcessRunner.output(python, [script, "--seconds", "\(seconds)", "--threads", "\(threads)"])
            guard output.status == 0, let values = figures(in: output.standardOutput, line: "eventsourcing") else {
                throw BenchmarkError("the eventsourcing peer failed: \(output.combined)")
            }
            let rate = values["per_second"] ?? 0
            report.add([
                "deposit_funds, 10,000 entities", "\(threads)", formatRate(rate), format(values["p50_us"] ?? 0),
                format(values["p99_us"] ?? 0),
                thalo[threads].map { formatRate($0.throughput) } ?? "–",
                thalo[threads].map { format($0.throughput / max(rate, 1), 2) } ?? "–",
            ])
        }
        return "### The peer: Python eventsourcing on SQLite, same command, same run\n\n" + report.markdown
    }
}

/// The `name=number` fields of the last line of `output` that starts with `line` (what the
/// wrk script and the peer print), or nil when there is no such line.
func figures(in output: String, line prefix: String) -> [String: Double]? {
    guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix(prefix) }) else { return nil }
    var values: [String: Double] = [:]
    for field in line.split(separator: " ").dropFirst() {
        let parts = field.split(separator: "=")
        if parts.count == 2 { values[String(parts[0])] = Double(parts[1]) }
    }
    return values
}

struct BenchmarkError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The hot entity alone (8 callers on one account, embedded store), taking turns with raw
/// append: a short case to profile (`perf record -- thalo-bench --only=hot`) and the cycle of
/// its writer (time per append, commands per append) next to raw append's commits.
enum HotEntityCase {
    static func run(module: BankAccountModule, duration: Duration) async throws -> String {
        print("one hot entity, 8 callers, taking turns with raw append (SQLite)")
        let turns = try await TurnsWithRawAppend(name: "hot", module: module)
        let (rawStore, runtime) = (turns.rawStore, turns.runtime)
        _ = try await runtime.execute(
            CommandRequest(aggregate: "BankAccount", id: "hot", command: "open_account", payload: ["initial_balance": 0]))
        let rawBefore = rawStore.groupStatistics
        let before = await runtime.batchStatistics()
        let results = try await turns.measure(callers: 8, duration: duration) { _, _ in
            _ = try await runtime.execute(
                CommandRequest(aggregate: "BankAccount", id: "hot", command: "deposit_funds", payload: ["amount": 1]))
        }
        let rawAfter = rawStore.groupStatistics
        let after = await runtime.batchStatistics()
        let (raw, hot) = (results[0], results[1])
        // Warm-up turns are not measured but append too: per append from all of them.
        let commits = rawAfter.commits - rawBefore.commits
        let appends = after.appends - before.appends
        let commands = after.commands - before.commands
        let report = Report(header: ["case", "ops/s", "p50 µs", "p99 µs", "vs raw append", "per commit or append"])
        report.add([
            "raw append, 8 writers", formatRate(raw.throughput), format(raw.p50), format(raw.p99), "1.00",
            "\(format(Double(rawAfter.writes - rawBefore.writes) / Double(max(1, commits)), 1)) writes",
        ])
        report.add([
            "execute, one hot entity, 8 callers", formatRate(hot.throughput), format(hot.p50), format(hot.p99),
            format(hot.throughput / raw.throughput, 2), "\(format(Double(commands) / Double(max(1, appends)), 1)) commands",
        ])
        let followed = after.followedAppends - before.followedAppends
        print(
            "  the hot entity's writer: \(appends) appends, \(followed) of them followed at once by the next "
                + "(\(format(100 * Double(followed) / Double(max(1, appends)), 0))%)")
        return "### One hot entity against raw append, in turns\n\n" + report.markdown
    }
}

/// One caller alone, taking turns with raw append with one writer on the embedded store: the
/// case of target 2, to profile (`thalo-bench --only=one`, run only when named).
enum OneCallerCase {
    static func run(module: BankAccountModule, duration: Duration) async throws -> String {
        print("one caller on 1,000 entities, taking turns with raw append with one writer (SQLite)")
        let turns = try await TurnsWithRawAppend(name: "one", module: module)
        let runtime = turns.runtime
        let entities = 1_000
        try await forEachConcurrently(entities, callers: 8) { index in
            _ = try await runtime.execute(
                CommandRequest(aggregate: "BankAccount", id: "a\(index)", command: "open_account", payload: ["initial_balance": 0]))
        }
        // What execute's append costs the store alone: an event of the same size, with metadata
        // of the same size, to one of 1,000 streams of the runtime's store, its version expected.
        let written = try await runtime.store.lastMessage(in: StreamName(unchecked: "bankAccount-a0"))
        let (sample, metadata) = (written?.data ?? eventData, written?.metadata)
        let versions = Mutex([Int64](repeating: -1, count: entities))
        let store = runtime.store
        let results = try await turns.measure(callers: 1, duration: duration) { _, index in
            _ = try await runtime.execute(
                CommandRequest(
                    aggregate: "BankAccount", id: "a\(index * 7919 % entities)", command: "deposit_funds", payload: ["amount": 1]))
        } also: { _, index in
            let entity = index * 7919 % entities
            let version = versions.withLock { $0[entity] }
            _ = try await store.append(
                [NewMessage(type: "Deposited", data: sample, metadata: metadata)], to: StreamName(unchecked: "storeAppend-s\(entity)"),
                expectedVersion: ExpectedVersion(version))
            versions.withLock { $0[entity] = version + 1 }
        }
        let report = Report(header: ["case", "ops/s", "p50 µs", "p99 µs", "vs raw append"])
        report.add(["raw append, 1 writer", formatRate(results[0].throughput), format(results[0].p50), format(results[0].p99), "1.00"])
        for (name, result) in [("execute, 1,000 entities, 1 caller", results[1]), ("store append as execute writes it", results[2])] {
            report.add([
                name, formatRate(result.throughput), format(result.p50), format(result.p99),
                format(result.throughput / results[0].throughput, 2),
            ])
        }
        return "### One caller against raw append, in turns\n\n" + report.markdown
    }
}

/// One caller alone on PostgreSQL, taking turns with raw `write_message`: the one-caller case
/// of target 4, to profile (`thalo-bench --only=postgres-one`, run only when named). The
/// store's own append of a message like execute's (its metadata, to a stream of the same
/// length, its version expected) shows which part of execute's time is the store's.
enum PostgresOneCallerCase {
    static func run(module: BankAccountModule, duration: Duration) async throws -> String {
        print("one caller on 1,000 entities, taking turns with raw write_message (PostgreSQL, durable)")
        let server = try await TemporaryPostgres.start(durable: true)
        defer { server.stop() }
        try await server.createDatabase("bench")
        return try await MessageDBStore.withStore(url: server.url(database: "bench"), logger: quiet) { store in
            try await MessageDBInstaller.install(on: store, logger: quiet)
            let runtime = Runtime(store: store, configuration: RuntimeConfiguration(consumesCommands: false), logger: quiet)
            try await runtime.publish(schema: module.schema, wasm: module.wasm)
            let entities = 1_000
            try await forEachConcurrently(entities, callers: 8) { index in
                _ = try await runtime.execute(
                    CommandRequest(aggregate: "BankAccount", id: "a\(index)", command: "open_account", payload: ["initial_balance": 0]))
                _ = try await store.append(
                    [NewMessage(type: "Opened", data: eventData)], to: StreamName(unchecked: "storeAppend-s\(index)"),
                    expectedVersion: .noStream)
            }
            let written = try await store.lastMessage(in: StreamName(unchecked: "bankAccount-a0"))
            let (sample, metadata) = (written?.data ?? eventData, written?.metadata)
            let versions = Mutex([Int64](repeating: 0, count: entities))
            let results = try await measureInterleaved(
                callers: 1, duration: duration * 3, slices: 24,
                [
                    { _, _ in
                        try await store.writeMessage(
                            NewMessage(type: "Deposited", data: eventData), to: StreamName(unchecked: "raw-\(UUID().uuidString)"))
                    },
                    { _, index in
                        _ = try await runtime.execute(
                            CommandRequest(
                                aggregate: "BankAccount", id: "a\(index * 7919 % entities)", command: "deposit_funds",
                                payload: ["amount": 1]))
                    },
                    { _, index in
                        let entity = index * 7919 % entities
                        let version = versions.withLock { $0[entity] }
                        _ = try await store.append(
                            [NewMessage(type: "Deposited", data: sample, metadata: metadata)],
                            to: StreamName(unchecked: "storeAppend-s\(entity)"), expectedVersion: ExpectedVersion(version))
                        versions.withLock { $0[entity] = version + 1 }
                    },
                ])
            let report = Report(header: ["case", "ops/s", "p50 µs", "p99 µs", "vs raw write_message"])
            let names = ["raw write_message", "execute, 1,000 entities, 1 caller", "store append as execute writes it"]
            for (name, result) in zip(names, results) {
                report.add([
                    name, formatRate(result.throughput), format(result.p50), format(result.p99),
                    format(result.throughput / results[0].throughput, 2),
                ])
            }
            return "### One caller on PostgreSQL against raw write_message, in turns\n\n" + report.markdown
        }
    }
}

/// A case that takes turns with raw append: a runtime with the bank account published on an
/// embedded store of its own, and raw appends to another.
struct TurnsWithRawAppend {
    let rawStore: SQLiteMessageStore
    let runtime: Runtime<SQLiteMessageStore>

    init(name: String, module: BankAccountModule) async throws {
        let folder = try temporaryFolder("bench-\(name)")
        rawStore = try SQLiteMessageStore(path: folder.appendingPathComponent("raw.sqlite").path, logger: quiet)
        let store = try SQLiteMessageStore(path: folder.appendingPathComponent("\(name).sqlite").path, logger: quiet)
        runtime = Runtime(store: store, configuration: RuntimeConfiguration(consumesCommands: false), logger: quiet)
        try await runtime.publish(schema: module.schema, wasm: module.wasm)
    }

    /// Raw append, then `operation`, in turns: their two measurements.
    func measure(
        callers: Int, duration: Duration, _ operation: @escaping @Sendable (Int, Int) async throws -> Void,
        also more: (@Sendable (Int, Int) async throws -> Void)? = nil
    ) async throws -> [Measurement] {
        try await measureInterleaved(
            callers: callers, duration: duration, [rawAppend(to: rawStore, prefix: "raw"), operation] + (more.map { [$0] } ?? []))
    }
}
