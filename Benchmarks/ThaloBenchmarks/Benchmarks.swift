import ESDL
import Foundation
import GuestBuilder
import JSON
import Logging
import MessageDB
import MessageStore
import MessageStoreSQLite
import Synchronization
import TestSupport
import ThaloRuntime

/// `thalo-bench`: Thalo's benchmarks; prints a table per case and the Markdown for
/// BENCHMARKS.md. Build and run in release mode: `swift run -c release thalo-bench`.
@main
struct Benchmarks {
    static func main() async throws {
        let arguments = CommandLine.arguments.dropFirst()
        let sectionNames = [
            "wasm", "languages", "rebuild", "memory", "soak", "inmemory", "sqlite", "postgres", "http", "peer", "hot", "one",
            "postgres-one",
        ]
        let usage = """
            usage: thalo-bench [--seconds=N] [--only=SECTION,...]
              --seconds=N   seconds per measured case (default 5)
              --only=...    run only these sections: \(sectionNames.joined(separator: ", "))
                            (hot, the hot entity alone, one and postgres-one, one caller alone
                            on each store, are there to profile and run only when named)
            Build it in release mode (scripts/bench does); BENCHMARKS.md explains each section.
            """
        if arguments.contains("--help") || arguments.contains("-h") {
            print(usage)
            return
        }
        if let unknown = arguments.first(where: { !$0.hasPrefix("--seconds=") && !$0.hasPrefix("--only=") }) {
            FileHandle.standardError.write(Data("thalo-bench: unknown argument \(unknown)\n\(usage)\n".utf8))
            exit(2)
        }
        let only = arguments.first { $0.hasPrefix("--only=") }.map { String($0.dropFirst(7)).split(separator: ",").map(String.init) }
        if let bad = only?.first(where: { !sectionNames.contains($0) }) {
            FileHandle.standardError.write(Data("thalo-bench: unknown section \(bad) in --only\n\(usage)\n".utf8))
            exit(2)
        }
        let givenSeconds = arguments.first { $0.hasPrefix("--seconds=") }?.dropFirst(10)
        let seconds = givenSeconds.map { Double($0) ?? 0 } ?? 5
        guard seconds > 0 else {
            FileHandle.standardError.write(
                Data("thalo-bench: --seconds=\(givenSeconds ?? "") is not a positive number of seconds\n\(usage)\n".utf8))
            exit(2)
        }
        let duration = Duration.milliseconds(Int(seconds * 1000))
        func wanted(_ name: String) -> Bool { only.map { $0.contains(name) } ?? true }

        #if DEBUG
            print("warning: this is a debug build; measure with `swift run -c release thalo-bench`")
        #endif
        print("Thalo benchmarks, \(ProcessInfo.processInfo.activeProcessorCount) cores, \(format(seconds)) s per case")
        print("building the bank_account module…")
        let module = try await BankAccountModule.build()
        print("  \(module.wasm.count) bytes")
        var sections: [String] = []

        if wanted("wasm") {
            cleanUpBetweenSections()
            sections.append(try WasmCost.run(module: module))
        }
        if wanted("languages") {
            cleanUpBetweenSections()
            sections.append(try await GuestLanguages.run())
        }
        if wanted("rebuild") {
            cleanUpBetweenSections()
            sections.append(try await Rebuild.run(module: module))
        }
        if wanted("memory") {
            cleanUpBetweenSections()
            sections.append(try await Memory.run(module: module))
        }
        if wanted("soak") {
            cleanUpBetweenSections()
            sections.append(try Soak.run(module: module))
        }
        var rawSQLite: [Int: Measurement] = [:]
        var executedSQLite: [Int: Measurement] = [:]
        var rawPostgres: [Int: Measurement] = [:]
        let throughput = Report(header: ["case", "store", "callers", "ops/s", "p50 µs", "p99 µs", "vs raw append"])
        if wanted("inmemory") {
            cleanUpBetweenSections()
            print("in-memory store (tests only: nothing is durable)")
            let store = InMemoryMessageStore()
            var rawInMemory: [Int: Measurement] = [:]
            for callers in [1, 8] {
                let result = try await measure(callers: callers, duration: duration, rawAppend(to: store, prefix: "raw\(callers)"))
                rawInMemory[callers] = result
                throughput.add([
                    "raw append", "in-memory", "\(callers)", formatRate(result.throughput), format(result.p50), format(result.p99), "1.00",
                ])
            }
            // The runtime's own cost per command, with a store that costs next to nothing.
            try await StoreCases.executeCases(
                store: InMemoryMessageStore(), name: "in-memory", module: module, duration: duration, report: throughput,
                raw: rawInMemory)
        }
        if wanted("sqlite") {
            cleanUpBetweenSections()
            print("embedded store (SQLite, synchronous=FULL)")
            let folder = try temporaryFolder("bench-sqlite")
            executedSQLite = try await StoreCases.run(
                store: {
                    try SQLiteMessageStore(path: folder.appendingPathComponent("raw-\(UUID().uuidString).sqlite").path, logger: quiet)
                },
                name: "SQLite", module: module, duration: duration, report: throughput, raw: &rawSQLite)
            try await StoreCases.checkpointsInTheCommit(folder: folder, duration: duration, report: throughput, raw: rawSQLite[8])
            try await StoreCases.timeOrderedIDs(folder: folder, duration: duration, report: throughput, raw: rawSQLite[8])
        }
        if wanted("postgres") {
            cleanUpBetweenSections()
            print("PostgreSQL 15 (Message DB, default durable settings), throwaway cluster")
            let server = try await TemporaryPostgres.start(durable: true)
            defer { server.stop() }
            try await StoreCases.runPostgres(server: server, module: module, duration: duration, report: throughput, raw: &rawPostgres)
        }
        if wanted("http") {
            cleanUpBetweenSections()
            sections.append(try await HTTPCase.run(module: module, duration: duration, rawSQLite: rawSQLite[8]))
        }
        if only?.contains("hot") == true {
            cleanUpBetweenSections()
            // Only when asked for: the sqlite section measures the same case among the others.
            sections.append(try await HotEntityCase.run(module: module, duration: duration))
        }
        if only?.contains("one") == true {
            cleanUpBetweenSections()
            // Only when asked for: the sqlite section measures the same case among the others.
            sections.append(try await OneCallerCase.run(module: module, duration: duration))
        }
        if only?.contains("postgres-one") == true {
            cleanUpBetweenSections()
            sections.append(try await PostgresOneCallerCase.run(module: module, duration: duration))
        }
        if wanted("peer") {
            cleanUpBetweenSections()
            sections.append(try await PeerCase.run(duration: duration, thalo: executedSQLite))
        }
        if wanted("inmemory") || wanted("sqlite") || wanted("postgres") {
            sections.insert("### Commands and appends\n\n" + throughput.markdown, at: 0)
        }
        print("\n" + sections.joined(separator: "\n\n"))
    }
}

let quiet: Logger = {
    var logger = Logger(label: "bench")
    logger.logLevel = .warning
    return logger
}()

/// The folders the cases made, deleted between sections.
private let madeFolders = Mutex<[URL]>([])

func temporaryFolder(_ name: String) throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("thalo-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    madeFolders.withLock { $0.append(folder) }
    return folder
}

/// Deletes the folders made so far and has the OS write out its dirty pages, so that each
/// section starts from the same state: one section's files (hundreds of megabytes of
/// SQLite and PostgreSQL data) are not flushed during the next one's fsyncs, and do not
/// pile up in the temporary folder run after run.
func cleanUpBetweenSections() {
    let folders = madeFolders.withLock { folders in
        defer { folders = [] }
        return folders
    }
    for folder in folders { try? FileManager.default.removeItem(at: folder) }
    sync()
}

/// The bank_account example, compiled with the real toolchain.
struct BankAccountModule: Sendable {
    var schema: String
    var wasm: [UInt8]
    var module: AggregateModule

    /// The repository's root folder.
    static let repositoryRoot: URL = {
        var folder = URL(fileURLWithPath: #filePath)
        while !FileManager.default.fileExists(atPath: folder.appendingPathComponent("Package.swift").path) && folder.path != "/" {
            folder.deleteLastPathComponent()
        }
        return folder
    }()

    static func build() async throws -> BankAccountModule {
        let example = repositoryRoot.appendingPathComponent("Examples/bank_account")
        let result = try await GuestBuilder(configuration: .init(outputDirectory: try temporaryFolder("bench-module"))).build(
            directory: example)
        let schema = try String(contentsOf: example.appendingPathComponent("bank_account.esdl"), encoding: .utf8)
        let wasm = try [UInt8](Data(contentsOf: result.wasmURL))
        let parsed = try Schema.parse(schema)
        return BankAccountModule(
            schema: schema, wasm: wasm,
            module: try AggregateModule(name: "BankAccount", version: parsed.version, schema: parsed, bytes: wasm))
    }
}
