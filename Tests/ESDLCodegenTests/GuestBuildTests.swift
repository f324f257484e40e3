import ESDL
import Foundation
import Testing

@testable import GuestBuilder

/// Builds real modules with the toolchain (Embedded Swift for wasm32, clang, wasm-ld).
/// Each Swift build takes about ten seconds.
@Suite("Guest builds with the real toolchain")
struct GuestBuildTests {
    /// A builder writing into a temporary folder, never into the repository.
    func builder() throws -> GuestBuilder {
        GuestBuilder(configuration: .init(outputDirectory: try Fixtures.temporaryDirectory("out")))
    }

    func expectContractModule(
        _ result: BuildResult, packedArguments: Bool = true, sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws {
        let bytes = [UInt8](try Data(contentsOf: result.wasmURL))
        #expect(bytes.count == result.sizeInBytes, sourceLocation: sourceLocation)
        let inspection = try #require(WasmModuleInspection(bytes), sourceLocation: sourceLocation)
        #expect(inspection.imports.isEmpty, "imports: \(inspection.imports)", sourceLocation: sourceLocation)
        for export in GuestBuilder.requiredExports {
            #expect(inspection.exports.contains(export), "missing export \(export)", sourceLocation: sourceLocation)
        }
        #expect(inspection.exports.contains("thalo_packed_arguments") == packedArguments, sourceLocation: sourceLocation)
    }

    @Test("each Swift example builds into a module that follows the contract", arguments: ["bank_account", "counter", "todos"])
    func exampleBuilds(name: String) async throws {
        let result = try await builder().build(directory: Fixtures.examplesDirectory.appendingPathComponent(name))
        #expect(result.wasmURL.lastPathComponent == name + ".wasm")
        #expect(result.language == .swift)
        #expect(result.sizeInBytes < 100_000, "an example module should stay small: \(result.sizeInBytes) bytes")
        try expectContractModule(result)
    }

    @Test("the generated code for everything.esdl compiles, with an implementation of every form")
    func everythingCompiles() async throws {
        let folder = try Fixtures.temporaryDirectory("order")
        try FileManager.default.copyItem(
            at: Fixtures.examplesDirectory.appendingPathComponent("schemas/everything.esdl"),
            to: folder.appendingPathComponent("everything.esdl"))
        try OrderFixture.source.write(to: folder.appendingPathComponent("Order.swift"), atomically: true, encoding: .utf8)
        let result = try await builder().build(directory: folder)
        #expect(result.wasmURL.lastPathComponent == "order.wasm")
        #expect(result.schema.aggregate.name == "Order")
        try expectContractModule(result)
    }

    @Test("an unoptimised build links too (for debugging)")
    func unoptimisedBuild() async throws {
        let builder = GuestBuilder(configuration: .init(optimization: .none, outputDirectory: try Fixtures.temporaryDirectory("onone")))
        let result = try await builder.build(directory: Fixtures.examplesDirectory.appendingPathComponent("counter"))
        try expectContractModule(result)
    }

    @Test("the C counter builds with clang and wasm-ld alone")
    func cCounterBuilds() async throws {
        let result = try await builder().build(directory: Fixtures.examplesDirectory.appendingPathComponent("c_counter"))
        #expect(result.language == .c)
        #expect(result.wasmURL.lastPathComponent == "counter.wasm")
        #expect(result.generatedSourceURL == nil)
        try expectContractModule(result)
    }

    @Test("the Rust bank account builds with rustc alone into a module that follows the contract")
    func rustBankAccountBuilds() async throws {
        let result = try await builder().build(directory: Fixtures.examplesDirectory.appendingPathComponent("bank_account_rust"))
        #expect(result.language == .rust)
        #expect(result.wasmURL.lastPathComponent == "bank_account.wasm")
        #expect(result.generatedSourceURL?.lastPathComponent == "bank_account.generated.rs")
        try expectContractModule(result, packedArguments: false)
    }

    @Test("a Rust folder leaves test files out, and a compile error names the author's file")
    func rustTestFilesAndErrors() async throws {
        let folder = try Fixtures.copyOfExample("bank_account_rust")
        let garbage = "this is not Rust and would fail to compile"
        try garbage.write(to: folder.appendingPathComponent("bank_account_test.rs"), atomically: true, encoding: .utf8)
        try garbage.write(to: folder.appendingPathComponent("Tests/more.rs"), atomically: true, encoding: .utf8)
        _ = try await builder().build(directory: folder)

        let source = folder.appendingPathComponent("bank_account.rs")
        let broken = try String(contentsOf: source, encoding: .utf8)
            .replacingOccurrences(of: "Ok(DepositedFunds { amount })", with: "Ok(WithdrewFunds { amount })")
        try broken.write(to: source, atomically: true, encoding: .utf8)
        let error = await #expect(throws: GuestBuildError.self) { try await builder().build(directory: folder) }
        #expect(error?.code == .compileFailed)
        #expect(error?.message.contains("bank_account.rs") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("rustc failed to compile the BankAccount module") == true)
    }

    @Test("without a Rust compiler, a Rust folder fails saying what to install")
    func rustWithoutCompiler() async throws {
        let toolchain = Toolchain(binDirectory: Toolchain.locate().binDirectory, rustc: nil)
        let builder = GuestBuilder(configuration: .init(toolchain: toolchain, outputDirectory: try Fixtures.temporaryDirectory("norust")))
        let error = await #expect(throws: GuestBuildError.self) {
            try await builder.build(directory: Fixtures.examplesDirectory.appendingPathComponent("bank_account_rust"))
        }
        #expect(error?.code == .toolchainIncomplete)
        #expect(error?.description.contains("libstd-rust-dev-wasm32") == true)
        #expect(Toolchain.locateRustCompiler(environment: ["RUSTC": "/opt/rust/bin/rustc", "PATH": ""])?.path == "/opt/rust/bin/rustc")
    }

    @Test("test files are left out of the module")
    func testFilesAreExcluded() async throws {
        let folder = try Fixtures.copyOfExample("counter")
        let garbage = "this is not Swift and would fail to compile"
        try garbage.write(to: folder.appendingPathComponent("CounterTests.swift"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("Tests"), withIntermediateDirectories: true)
        try garbage.write(to: folder.appendingPathComponent("Tests/More.swift"), atomically: true, encoding: .utf8)
        let sources = try GuestSources(directory: folder)
        #expect(sources.swiftFiles == ["Counter.swift"])
        try expectContractModule(try await builder().build(directory: folder))
    }

    @Test("a compile error names the author's file")
    func compileErrorNamesTheFile() async throws {
        let folder = try Fixtures.copyOfExample("bank_account")
        try "let broken: Int = \"text\"\n".write(
            to: folder.appendingPathComponent("Broken.swift"), atomically: true, encoding: .utf8)
        let error = await #expect(throws: GuestBuildError.self) { try await builder().build(directory: folder) }
        #expect(error?.code == .compileFailed)
        #expect(error?.message.contains("Broken.swift:1:") == true, "\(error?.message ?? "")")
    }

    @Test("a handler with the wrong return type is reported in the author's file before the generated code")
    func wrongReturnTypeAuthorFirst() async throws {
        let folder = try Fixtures.copyOfExample("counter")
        let file = folder.appendingPathComponent("Counter.swift")
        let source = try String(contentsOf: file, encoding: .utf8)
        // Every handler returns the wrong event type.
        let broken = source.replacingOccurrences(of: "-> Incremented", with: "-> Decremented")
        #expect(broken != source)
        try broken.write(to: file, atomically: true, encoding: .utf8)
        let error = await #expect(throws: GuestBuildError.self) { try await builder().build(directory: folder) }
        let message = error?.message ?? ""
        let author = message.range(of: "Counter.swift:")
        let generated = message.range(of: ".generated.swift:")
        #expect(author != nil, "\(message)")
        if let author, let generated { #expect(author.lowerBound < generated.lowerBound, "\(message)") }
    }

    @Test("compiler messages are reordered whole, the author's files first")
    func diagnosticsOrder() {
        let output = """
            /tmp/w/counter.generated.swift:10:5: error: type 'Counter' does not conform
             8 | x
               | `- error: here
            /src/Counter.swift:3:12: error: cannot convert value
            /src/Counter.swift:1:1: note: declared here
            /tmp/w/counter.generated.swift:12:1: warning: unused
            """
        let ordered = CompilerDiagnostics.authorFirst(output, authorFiles: ["Counter.swift"])
        #expect(
            ordered == """
                /src/Counter.swift:3:12: error: cannot convert value
                /src/Counter.swift:1:1: note: declared here
                /tmp/w/counter.generated.swift:10:5: error: type 'Counter' does not conform
                 8 | x
                   | `- error: here
                /tmp/w/counter.generated.swift:12:1: warning: unused
                """)
    }

    @Test("a missing implementation of the protocol is a compile error that says what to write")
    func missingImplementation() async throws {
        let folder = try Fixtures.temporaryDirectory("empty")
        try String(contentsOf: Fixtures.examplesDirectory.appendingPathComponent("counter/counter.esdl"), encoding: .utf8)
            .write(to: folder.appendingPathComponent("counter.esdl"), atomically: true, encoding: .utf8)
        try "// nothing here yet\n".write(to: folder.appendingPathComponent("Counter.swift"), atomically: true, encoding: .utf8)
        let error = await #expect(throws: GuestBuildError.self) { try await builder().build(directory: folder) }
        #expect(error?.code == .compileFailed)
        #expect(error?.hint?.contains("struct Counter: CounterAggregate") == true)
    }
}

@Suite("Guest build errors")
struct GuestBuildErrorTests {
    @Test("a folder without a schema is rejected")
    func missingSchema() throws {
        let folder = try Fixtures.temporaryDirectory("noschema")
        try "struct A {}".write(to: folder.appendingPathComponent("A.swift"), atomically: true, encoding: .utf8)
        let error = #expect(throws: GuestBuildError.self) { try GuestSources(directory: folder) }
        #expect(error?.code == .missingSchema)
    }

    @Test("a folder with two schemas is rejected, naming both")
    func twoSchemas() throws {
        let folder = try Fixtures.copyOfExample("counter")
        try "version = \"0.1.0\"".write(to: folder.appendingPathComponent("other.esdl"), atomically: true, encoding: .utf8)
        let error = #expect(throws: GuestBuildError.self) { try GuestSources(directory: folder) }
        #expect(error?.code == .multipleSchemas)
        #expect(error?.message.contains("counter.esdl") == true && error?.message.contains("other.esdl") == true)
    }

    @Test("a folder without sources is rejected")
    func noSources() throws {
        let folder = try Fixtures.temporaryDirectory("nosources")
        try "version = \"0.1.0\"".write(to: folder.appendingPathComponent("a.esdl"), atomically: true, encoding: .utf8)
        let error = #expect(throws: GuestBuildError.self) { try GuestSources(directory: folder) }
        #expect(error?.code == .missingSources)
    }

    @Test("an invalid schema fails with its diagnostics and file position")
    func invalidSchema() async throws {
        let folder = try Fixtures.copyOfExample("counter")
        try "version = \"0.1.0\"\naggregate Counter {\n  increment(amount: Integer) -> Incremented\n}\n"
            .write(to: folder.appendingPathComponent("counter.esdl"), atomically: true, encoding: .utf8)
        let error = await #expect(throws: GuestBuildError.self) { try await GuestBuilder().build(directory: folder) }
        #expect(error?.code == .invalidSchema)
        #expect(error?.message.contains("counter.esdl:3:") == true, "\(error?.message ?? "")")
    }

    @Test("a toolchain without swiftc is named in the error")
    func missingCompiler() async throws {
        let toolchain = Toolchain(binDirectory: URL(fileURLWithPath: "/nonexistent/usr/bin"))
        let builder = GuestBuilder(configuration: .init(toolchain: toolchain))
        let error = await #expect(throws: GuestBuildError.self) {
            try await builder.build(directory: Fixtures.examplesDirectory.appendingPathComponent("counter"))
        }
        #expect(error?.code == .toolchainIncomplete)
        #expect(error?.message.contains("swiftc") == true)
        #expect(error?.hint != nil)
    }

    @Test("a toolchain without wasm-ld is named in the error")
    func missingLinker() throws {
        let folder = try Fixtures.temporaryDirectory("bin")
        for tool in ["swiftc", "clang"] {
            let path = folder.appendingPathComponent(tool).path
            _ = FileManager.default.createFile(atPath: path, contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755])
        }
        let error = #expect(throws: GuestBuildError.self) { try Toolchain(binDirectory: folder).validate(language: .c) }
        #expect(error?.code == .toolchainIncomplete)
        #expect(error?.message.contains("wasm-ld") == true)
    }

    @Test("the toolchain is found from swiftc on PATH")
    func toolchainFromPath() throws {
        let folder = try Fixtures.temporaryDirectory("path")
        let path = folder.appendingPathComponent("swiftc").path
        _ = FileManager.default.createFile(atPath: path, contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755])
        let toolchain = Toolchain.locate(environment: ["PATH": "/nonexistent:" + folder.path])
        #expect(toolchain.binDirectory.resolvingSymlinksInPath().path == folder.resolvingSymlinksInPath().path)
        #expect(Toolchain.locate(environment: ["PATH": "/nonexistent"]).binDirectory.path == "/opt/swift/usr/bin")
    }

    @Test("module names are the aggregate in snake_case")
    func moduleNames() throws {
        #expect(GuestBuilder.moduleFileName(for: try Fixtures.schema("bank_account/bank_account.esdl")) == "bank_account.wasm")
        #expect(GuestBuilder.moduleFileName(for: try Fixtures.schema("schemas/everything.esdl")) == "order.wasm")
    }
}
