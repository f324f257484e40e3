import ArgumentParser
import ESDL
import ESDLCodegen
import Foundation
import GuestBuilder
import JSON
import Logging
import MessageDB
import MessageStore
import ThaloRuntime

/// `thalo new`
struct New: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a folder with a working aggregate: an ESDL schema, its Swift (or Rust) implementation, a spec and a README.")

    @Argument(help: "The aggregate's name, e.g. ShoppingCart or shopping_cart.") var name: String
    @Option(name: .long, help: "Where to create the folder.") var directory: String = "."
    @Option(name: .long, help: "The implementation's language: swift or rust.") var lang: GuestCodeLanguage = .swift

    func run() async throws {
        try await runReporting(json: false) {
            do {
                let folder = try Scaffold.create(name: name, in: URL(fileURLWithPath: directory), language: lang.guestLanguage)
                Terminal.print("created \(Terminal.paint(folder.path, .green))")
                Terminal.print("next: thalo build \(folder.path) && thalo test \(folder.path)")
            } catch {
                throw CLIError.input("\(error)")
            }
        }
    }
}

/// `thalo build`
struct Build: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build an aggregate folder (one .esdl and Swift, Rust or C sources) into a wasm module.",
        discussion: """
            Swift uses the Swift toolchain's Embedded Swift for wasm32 and wasm-ld; Rust uses rustc for \
            wasm32-unknown-unknown ($RUSTC, else /usr/bin/rustc, else rustc on PATH); C uses the Swift \
            toolchain's clang and wasm-ld. Writes <output>/<aggregate_name>.wasm.
            """)

    @Argument(help: "The aggregate's folder.") var directory: String
    @Option(name: .shortAndLong, help: "Output folder (default <dir>/.build).") var output: String?
    @Option(name: .long, help: "Optimisation: size (default), speed or none.")
    var optimization: GuestBuilder.Configuration.Optimization = .size
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() async throws {
        try await runReporting(json: json) {
            let builder = GuestBuilder(
                configuration: .init(optimization: optimization, outputDirectory: output.map { URL(fileURLWithPath: $0) }))
            let progress = Progress("building \(directory)…")
            let result: BuildResult
            do {
                result = try await builder.build(directory: URL(fileURLWithPath: directory))
                progress.stop()
            } catch let error as GuestBuildError where error.code == .invalidSchema {
                progress.stop()
                throw CLIError.diagnostics(error.message)
            } catch {
                progress.stop()
                throw CLIError.input("\(error)")
            }
            let seconds = Double(result.duration.components.seconds) + Double(result.duration.components.attoseconds) / 1e18
            if json {
                return Terminal.print(
                    JSONValue.object([
                        "module": .string(result.wasmURL.path), "size": .integer(Int64(result.sizeInBytes)),
                        "aggregate": .string(result.schema.aggregate.name), "version": .string(result.schema.version.description),
                        "seconds": .double(seconds),
                    ]).jsonText)
            }
            if !result.diagnostics.isEmpty { Terminal.note(result.diagnostics) }
            Terminal.print(
                "built \(Terminal.paint(result.wasmURL.path, .green)) (\(result.schema.aggregate.name) \(result.schema.version), \(result.sizeInBytes) bytes) in \(String(format: "%.1f", seconds)) s"
            )
        }
    }
}

/// `thalo generate`
struct Generate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check an ESDL schema and generate code from it.",
        discussion: """
            By default the Embedded-Swift guest code (types, JSON, the protocol to implement); with \
            --lang rust the Rust guest code (types, JSON, the trait to implement, the exports). \
            --format host writes Codable Swift types of the events, commands and custom types for host programs \
            such as projections; --format json-schema a JSON Schema of every payload; --format json the schema \
            model; --format canonical the normalised ESDL.
            """)

    @Argument(help: "The ESDL file.") var schema: String
    @Option(
        name: .long,
        help:
            "What to generate: swift (guest code, default), host (Codable types for projections), json-schema, json (schema model), canonical (ESDL)."
    )
    var format: GenerateFormat = .swift
    @Option(name: .long, help: "The language of the guest code: swift (default) or rust.") var lang: GuestCodeLanguage = .swift
    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?

    func run() async throws {
        try await runReporting(json: false) {
            guard let text = try? String(contentsOfFile: schema, encoding: .utf8) else {
                throw CLIError.input("cannot read \(schema)")
            }
            let parsed: Schema
            do {
                parsed = try Schema.parse(text, file: schema)
            } catch let error as ESDLError {
                throw CLIError.diagnostics(error.rendered(colored: Terminal.isStandardErrorTTY))
            }
            let generated: String
            let fileName = (schema as NSString).lastPathComponent
            if lang == .rust && format != .swift {
                throw CLIError.input("--lang rust applies to the guest code only; leave out --format \(format.rawValue)")
            }
            switch format {
            case .swift where lang == .rust: generated = RustGuestGenerator(schema: parsed, fileName: fileName).generate()
            case .swift: generated = SwiftGuestGenerator(schema: parsed, fileName: fileName).generate()
            case .host: generated = SwiftHostGenerator(schema: parsed, fileName: fileName).generate()
            case .jsonSchema: generated = JSONSchemaGenerator(schema: parsed).generate().prettyJSONText + "\n"
            case .json: generated = parsed.jsonValue.prettyJSONText + "\n"
            case .canonical: generated = parsed.canonicalText
            }
            if let output {
                do {
                    try generated.write(toFile: output, atomically: true, encoding: .utf8)
                } catch {
                    throw CLIError(message: "cannot write \(output): \(error.localizedDescription)", exitCode: 1)
                }
                Terminal.note("wrote \(output)")
            } else {
                Terminal.write(generated)
            }
        }
    }
}

/// `thalo test`
struct Test: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build an aggregate folder and run its given-when-then specs (Tests/*.spec.json or tests/*.spec.json).")

    @Argument(help: "The aggregate's folder.") var directory: String

    func run() async throws {
        try await runReporting(json: false) {
            let progress = Progress("building \(directory)…")
            let result: BuildResult
            do {
                result = try await GuestBuilder().build(directory: URL(fileURLWithPath: directory))
                progress.stop()
            } catch let error as GuestBuildError where error.code == .invalidSchema {
                progress.stop()
                throw CLIError.diagnostics(error.message)
            } catch {
                progress.stop()
                throw CLIError.input("\(error)")
            }
            let folder = URL(fileURLWithPath: directory)
            let tests =
                ["Tests", "tests"].map { folder.appendingPathComponent($0) }
                .first { FileManager.default.fileExists(atPath: $0.path) } ?? folder.appendingPathComponent("Tests")
            let specs = ((try? FileManager.default.contentsOfDirectory(atPath: tests.path)) ?? []).filter { $0.hasSuffix(".spec.json") }
                .sorted()
            guard !specs.isEmpty else { throw CLIError.input("no spec files in \(tests.path) (expected *.spec.json)") }
            let wasm = try [UInt8](Data(contentsOf: result.wasmURL))
            let module: AggregateModule
            do {
                module = try AggregateModule(
                    name: result.schema.aggregate.name, version: result.schema.version, schema: result.schema, bytes: wasm)
            } catch let error as RuntimeError {
                throw CLIError(message: error.message, exitCode: 7)
            }
            var failed = 0
            var total = 0
            for file in specs {
                let text = try String(contentsOf: tests.appendingPathComponent(file), encoding: .utf8)
                do {
                    let spec = try AggregateSpec(jsonText: text)
                    for outcome in try spec.run(module) {
                        total += 1
                        if outcome.passed {
                            Terminal.print(Terminal.paint("✔", .green) + " \(outcome.name)")
                        } else {
                            failed += 1
                            Terminal.print(Terminal.paint("✘", .red) + " \(outcome.name)")
                            for problem in outcome.problems { Terminal.print("    \(problem)") }
                        }
                    }
                } catch {
                    throw CLIError.input("\(file): \(error)")
                }
            }
            Terminal.print("\(total - failed) of \(total) scenarios passed")
            if failed > 0 { throw CLIError(message: "\(failed) scenario\(failed == 1 ? "" : "s") failed", exitCode: 1) }
        }
    }
}

/// `thalo db`
struct DB: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage the PostgreSQL message store.", subcommands: [Install.self])

    /// `thalo db install`
    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install the Message DB 1.3–compatible message_store schema and Thalo's module registry.",
            discussion: """
                Run once as an administrator (a role that may create schemas and roles). \
                Idempotent: on a database that already has message_store (Thalo's or the official \
                Message DB) it changes nothing there. It creates Thalo's tables, the registry \
                thalo.modules, the cluster's thalo.nodes and thalo.leases, and the procedure \
                thalo.write_message_committed (an append in one round trip, acknowledged once committed), and lets the roles Thalo runs as use them (--grant-to; by default the \
                message_store role, when it exists), so that `thalo serve` can then run as that role \
                without CREATE rights.
                """)

        @Option(name: .long, help: ArgumentHelp("postgres://user:password@host:port/db (or THALO_DATABASE_URL).", valueName: "url"))
        var databaseURL: String? = ProcessInfo.processInfo.environment["THALO_DATABASE_URL"]
        @Option(
            name: .long,
            help: ArgumentHelp(
                "A role `thalo serve` runs as, to grant the registry to (repeatable; default: message_store).", valueName: "role"))
        var grantTo: [String] = []
        @Flag(name: .long, help: "Print JSON.") var json = false

        func run() async throws {
            try await runReporting(json: json) {
                guard let databaseURL else { throw CLIError.input("give --database-url postgres://… (or set THALO_DATABASE_URL)") }
                var quiet = Logger(label: "thalo")
                quiet.logLevel = .warning
                let logger = quiet
                let roles = grantTo.isEmpty ? nil : grantTo
                do {
                    let (outcome, grantees) = try await MessageDBStore.withStore(url: databaseURL, logger: logger) { store in
                        let outcome = try await MessageDBInstaller.install(on: store, grantingRegistryTo: roles, logger: logger)
                        return (outcome, try await store.registryGrantees())
                    }
                    let granted = grantees.isEmpty ? "" : "; roles that may use it: \(grantees.joined(separator: ", "))"
                    let grantedJSON = JSONValue.array(grantees.map { .string($0) })
                    switch outcome {
                    case .installed(let version):
                        Terminal.print(
                            json
                                ? JSONValue.object(["outcome": "installed", "version": .string(version), "registryRoles": grantedJSON])
                                    .jsonText
                                : "installed message_store \(version) and the module registry thalo.modules\(granted)")
                    case .alreadyInstalled(let version):
                        Terminal.print(
                            json
                                ? JSONValue.object([
                                    "outcome": "alreadyInstalled", "version": .string(version), "registryRoles": grantedJSON,
                                ]).jsonText
                                : "message_store \(version) is already installed; nothing changed there. The module registry thalo.modules is ready\(granted)"
                        )
                    }
                } catch let error as MessageStoreError {
                    throw CLIError.store(error)
                } catch {
                    throw CLIError(message: "\(error)", exitCode: 3)
                }
            }
        }
    }
}
