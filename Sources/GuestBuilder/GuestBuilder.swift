import AggregateContract
import ESDL
import ESDLCodegen
import Foundation

/// Builds an aggregate module (`thalo build <dir>`): a folder with one ESDL file and the
/// aggregate's sources becomes one `.wasm` that follows docs/module-contract.md.
///
/// A **Swift** folder holds `<name>.esdl` and Swift files with a type named like the
/// aggregate conforming to the generated protocol (`struct BankAccount:
/// BankAccountAggregate`). The builder generates the glue from the schema and compiles it
/// with the guest SDK (embedded in this library, so no repository checkout is needed) and
/// the author's files in one Embedded-Swift `swiftc` invocation, compiles the C shim with
/// the toolchain's clang, and links with `wasm-ld`.
///
/// A **Rust** folder (`.rs` files and no Swift) holds a `pub struct` named like the
/// aggregate implementing the generated trait (`impl BankAccountAggregate for
/// BankAccount`). The builder generates the Rust glue, writes the Rust guest SDK
/// (`Guest/rust/thalo.rs`, embedded) and a crate root that includes both and every `.rs`
/// file, and compiles them with one `rustc` run for `wasm32-unknown-unknown` (Debian's
/// `rustc` with `libstd-rust-dev-wasm32`; see ``Toolchain/locateRustCompiler(environment:)``).
///
/// A **C** folder (`.c` files only) implements the contract by hand; its files are
/// compiled with clang for wasm32 and linked the same way (see `Examples/c_counter`).
///
/// Test files are not part of the module: anything under a `Tests` or `tests` folder,
/// files named `*Tests.swift`, `*Test.swift` or `*_test.rs`, hidden folders and `.build`.
///
/// The module is written to `<output>/<aggregate_in_snake_case>.wasm`
/// (`BankAccount` → `bank_account.wasm`), the output folder being
/// ``Configuration/outputDirectory`` or `<dir>/.build`. Intermediate files (the generated
/// Swift, the SDK sources, object files) go to `<output>/<name>.build/` and are kept, so
/// that compiler messages pointing into generated code can be read.
///
/// ```swift
/// let result = try await GuestBuilder().build(directory: URL(fileURLWithPath: "Examples/bank_account"))
/// print(result.wasmURL.path, result.sizeInBytes)
/// ```
public struct GuestBuilder: Sendable {
    /// How to build.
    public struct Configuration: Sendable {
        /// The optimisation level of the Swift compiler.
        public enum Optimization: String, Sendable, Hashable, CaseIterable {
            /// `-Osize`: the smallest module; the default, and the fastest in WasmKit's
            /// interpreter, where code size dominates.
            case size
            /// `-O`.
            case speed
            /// `-Onone`, for debugging.
            case none

            var swiftFlag: String {
                switch self {
                case .size: "-Osize"
                case .speed: "-O"
                case .none: "-Onone"
                }
            }

            /// clang's level for C: `-O2` for size too, as `-Oz` turns loops into calls to
            /// libc functions (`strlen`) that a module without libc does not have.
            var clangFlag: String {
                switch self {
                case .size, .speed: "-O2"
                case .none: "-O0"
                }
            }

            var rustFlags: [String] {
                switch self {
                case .size: ["-C", "opt-level=s", "-C", "panic=abort", "-C", "lto", "-C", "codegen-units=1", "-C", "strip=symbols"]
                case .speed: ["-C", "opt-level=3", "-C", "panic=abort", "-C", "lto", "-C", "codegen-units=1", "-C", "strip=symbols"]
                case .none: ["-C", "opt-level=0", "-C", "panic=abort"]
                }
            }
        }

        /// The toolchain; by default the one of `swiftc` on `PATH`, else `/opt/swift/usr/bin`.
        public var toolchain: Toolchain
        /// The optimisation level.
        public var optimization: Optimization
        /// Where to write the module; `nil` means `<dir>/.build`.
        public var outputDirectory: URL?

        /// Creates a configuration.
        public init(toolchain: Toolchain = .locate(), optimization: Optimization = .size, outputDirectory: URL? = nil) {
            self.toolchain = toolchain
            self.optimization = optimization
            self.outputDirectory = outputDirectory
        }
    }

    /// How this builder builds.
    public var configuration: Configuration

    /// Creates a builder.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// The file name of the module built for a schema: the aggregate in snake_case,
    /// `bank_account.wasm` for `BankAccount`.
    public static func moduleFileName(for schema: Schema) -> String {
        snakeCase(schema.aggregate.name) + ".wasm"
    }

    /// The exports every module must have (docs/module-contract.md).
    public static let requiredExports: [String] = ModuleContract.requiredExports

    /// Builds the module for the folder.
    ///
    /// - Throws: ``GuestBuildError`` saying what is missing or wrong: no or several ESDL
    ///   files, an invalid schema (with its diagnostics), no sources, a missing tool,
    ///   compiler or linker errors (with their output, naming the author's files).
    public func build(directory: URL) async throws -> BuildResult {
        let clock = ContinuousClock()
        let start = clock.now
        let sources = try GuestSources(directory: directory)
        let schema = try sources.parseSchema()
        let toolchain = configuration.toolchain
        try toolchain.validate(language: sources.language)

        let outputDirectory = configuration.outputDirectory ?? sources.directory.appendingPathComponent(".build")
        let moduleName = Self.moduleFileName(for: schema)
        let baseName = String(moduleName.dropLast(".wasm".count))
        let workDirectory = outputDirectory.appendingPathComponent(baseName + ".build")
        let wasmURL = outputDirectory.appendingPathComponent(moduleName)
        try createDirectory(workDirectory)

        let step = Step(
            sources: sources, schema: schema, toolchain: toolchain, workDirectory: workDirectory, baseName: baseName,
            wasmURL: wasmURL)
        let compiled: Compiled
        switch sources.language {
        case .swift: compiled = try await compileSwift(step)
        case .c: compiled = try await compileC(step)
        case .rust: compiled = try await compileRust(step)
        }
        if !compiled.objects.isEmpty {
            let link = try await runTool(
                toolchain.wasmLinker,
                ["--no-entry", "--strip-all", "--gc-sections"] + compiled.objects.map(\.path) + compiled.libraries.map(\.path)
                    + ["-o", wasmURL.path])
            guard link.status == 0 else {
                throw GuestBuildError(
                    .linkFailed, "wasm-ld failed:\n" + link.output,
                    hint: sources.language == .c ? "a C module must define every function it uses; there is no libc" : nil)
            }
        }
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: wasmURL))
        } catch {
            throw GuestBuildError(.outputFailed, "cannot read \(wasmURL.path): \(error.localizedDescription)")
        }
        guard let inspection = WasmModuleInspection(bytes) else {
            throw GuestBuildError(.linkFailed, "the build wrote something that is not a wasm module: \(wasmURL.path)")
        }
        guard inspection.imports.isEmpty else {
            throw GuestBuildError(
                .hasImports, "the module imports \(inspection.imports.joined(separator: ", ")); Thalo modules import nothing",
                hint: "define those functions in the module (there is no libc or WASI)")
        }
        let missing = Self.requiredExports.filter { !inspection.exports.contains($0) }
        guard missing.isEmpty else {
            throw GuestBuildError(
                .linkFailed, "the module does not export \(missing.joined(separator: ", "))",
                hint: "see docs/module-contract.md for the exports a module needs")
        }
        return BuildResult(
            wasmURL: wasmURL, sizeInBytes: bytes.count, duration: clock.now - start, schema: schema,
            language: sources.language, generatedSourceURL: compiled.generatedSourceURL, diagnostics: compiled.diagnostics)
    }

    /// What every language's compile step works with.
    private struct Step {
        var sources: GuestSources
        var schema: Schema
        var toolchain: Toolchain
        /// `<output>/<name>.build`, for intermediate files.
        var workDirectory: URL
        /// The module's file name without `.wasm`.
        var baseName: String
        /// The module to write (Rust writes it directly; the others link objects into it).
        var wasmURL: URL
    }

    /// What a compile step produced: objects and libraries to link (none when the
    /// compiler wrote the module itself), the generated source, and compiler warnings.
    private struct Compiled {
        var objects: [URL] = []
        var libraries: [URL] = []
        var generatedSourceURL: URL?
        var diagnostics = ""
    }

    /// Swift: the generated glue, the SDK and the author's files in one Embedded-Swift
    /// `swiftc` invocation, and the C shim with clang.
    private func compileSwift(_ step: Step) async throws -> Compiled {
        let (sources, schema, toolchain) = (step.sources, step.schema, step.toolchain)
        let generated = SwiftGuestGenerator(schema: schema, fileName: sources.schemaURL.lastPathComponent).generate()
        let generatedURL = step.workDirectory.appendingPathComponent(step.baseName + ".generated.swift")
        let sdkDirectory = step.workDirectory.appendingPathComponent("sdk")
        try write(generated, to: generatedURL)
        let sdkFiles = GuestSDKSources.files.filter { $0.path.hasPrefix("Sources/") || $0.path.hasPrefix("shim/") }
        for folder in ["Sources", "shim"] {
            try createDirectory(sdkDirectory.appendingPathComponent(folder))
        }
        for file in sdkFiles {
            try write(file.contents + "\n", to: sdkDirectory.appendingPathComponent(file.path))
        }
        let sdkSwiftFiles = sdkFiles.filter { $0.path.hasSuffix(".swift") }.map { sdkDirectory.appendingPathComponent($0.path).path }
        let shimURL = sdkDirectory.appendingPathComponent("shim/thalo_shim.c")
        let swiftObject = step.workDirectory.appendingPathComponent("guest.o")
        let shimObject = step.workDirectory.appendingPathComponent("thalo_shim.o")
        let swiftArguments =
            [
                "-target", "wasm32-unknown-none-wasm",
                "-enable-experimental-feature", "Embedded",
                "-enable-experimental-feature", "Extern",
                "-wmo", configuration.optimization.swiftFlag, "-parse-as-library",
                "-Xfrontend", "-disable-stack-protector",
                "-module-name", "Guest",
            ] + sdkSwiftFiles + [generatedURL.path] + sources.swiftFiles + ["-c", "-o", swiftObject.path]
        async let swiftResult = runTool(toolchain.swiftc, swiftArguments, in: sources.directory)
        async let shimResult = runTool(
            toolchain.clang,
            [
                "--target=wasm32", configuration.optimization.clangFlag, "-nostdlib", "-mbulk-memory", "-c", shimURL.path, "-o",
                shimObject.path,
            ])
        let (swift, shim) = try await (swiftResult, shimResult)
        guard swift.status == 0 else {
            // The author's mistakes first: the generated file, compiled before theirs, often
            // reports the same mistake where it calls their code.
            let output = CompilerDiagnostics.authorFirst(swift.output, authorFiles: sources.swiftFiles)
            throw GuestBuildError(
                .compileFailed, "swiftc failed to compile the \(schema.aggregate.name) module:\n" + output,
                hint:
                    "the generated code is in \(generatedURL.path); implement `struct \(schema.aggregate.name): \(schema.aggregate.name)Aggregate`"
            )
        }
        guard shim.status == 0 else {
            throw GuestBuildError(.compileFailed, "clang failed to compile the guest shim:\n" + shim.output)
        }
        var compiled = Compiled(objects: [swiftObject, shimObject], generatedSourceURL: generatedURL, diagnostics: swift.output)
        if FileManager.default.fileExists(atPath: toolchain.unicodeDataTables.path) {
            compiled.libraries.append(toolchain.unicodeDataTables)
        }
        return compiled
    }

    /// C: each file with clang for wasm32; the author implements the contract by hand.
    private func compileC(_ step: Step) async throws -> Compiled {
        let (sources, toolchain, workDirectory) = (step.sources, step.toolchain, step.workDirectory)
        let flags = ["--target=wasm32", configuration.optimization.clangFlag, "-nostdlib", "-mbulk-memory"]
        let results = try await withThrowingTaskGroup(of: (URL, ToolOutput).self) { group in
            for (index, file) in sources.cFiles.enumerated() {
                let object = workDirectory.appendingPathComponent(
                    "\(index)-" + URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent + ".o")
                group.addTask {
                    (object, try await runTool(toolchain.clang, flags + ["-c", file, "-o", object.path], in: sources.directory))
                }
            }
            var results: [(URL, ToolOutput)] = []
            for try await result in group { results.append(result) }
            return results.sorted { $0.0.path < $1.0.path }
        }
        var compiled = Compiled()
        for (object, result) in results {
            guard result.status == 0 else {
                throw GuestBuildError(.compileFailed, "clang failed:\n" + result.output)
            }
            compiled.diagnostics += result.output
            compiled.objects.append(object)
        }
        return compiled
    }

    /// Rust: the generated code, the Rust SDK and the author's `.rs` files as modules of one
    /// crate (a generated `lib.rs`), compiled by one `rustc` run straight to the module.
    private func compileRust(_ step: Step) async throws -> Compiled {
        let (sources, schema) = (step.sources, step.schema)
        guard let rustc = step.toolchain.rustc else {
            throw GuestBuildError(.toolchainIncomplete, "no Rust compiler found")
        }
        let generatedURL = step.workDirectory.appendingPathComponent(step.baseName + ".generated.rs")
        try write(RustGuestGenerator(schema: schema, fileName: sources.schemaURL.lastPathComponent).generate(), to: generatedURL)
        guard let sdk = GuestSDKSources.files.first(where: { $0.path == "rust/thalo.rs" }) else {
            throw GuestBuildError(.outputFailed, "the Rust guest SDK is missing from this build of thalo")
        }
        let sdkURL = step.workDirectory.appendingPathComponent("thalo.rs")
        try write(sdk.contents + "\n", to: sdkURL)
        let crateRoot = step.workDirectory.appendingPathComponent("lib.rs")
        try write(Self.rustCrateRoot(sources: sources, sdk: sdkURL, generated: generatedURL), to: crateRoot)
        let result = try await runTool(
            rustc,
            [
                "--edition", "2021", "--crate-type", "cdylib", "--crate-name", step.baseName,
                "--target", "wasm32-unknown-unknown",
            ] + configuration.optimization.rustFlags + [crateRoot.path, "-o", step.wasmURL.path],
            in: sources.directory)
        guard result.status == 0 else {
            let output = result.output
            let missingStandardLibrary = output.contains("can't find crate for `std`") || output.contains("can't find crate for `core`")
            throw GuestBuildError(
                .compileFailed, "rustc failed to compile the \(schema.aggregate.name) module:\n" + output,
                hint: missingStandardLibrary
                    ? "\(rustc.path) has no standard library for wasm32-unknown-unknown; on Debian: apt-get install libstd-rust-dev-wasm32"
                    : "the generated code is in \(generatedURL.path); implement `impl \(schema.aggregate.name)Aggregate for \(schema.aggregate.name)` on a `pub struct \(schema.aggregate.name)`"
            )
        }
        return Compiled(generatedSourceURL: generatedURL, diagnostics: result.output)
    }

    /// The crate root of a Rust guest: the SDK as `thalo`, the generated code, and each of
    /// the author's files as a module, all re-exported at the root so that the author's
    /// `use crate::*;` sees the generated types and the SDK's prelude, and the generated
    /// glue finds the author's type as `crate::<Aggregate>`.
    static func rustCrateRoot(sources: GuestSources, sdk: URL, generated: URL) -> String {
        var text = "// Generated by thalo build for \(sources.directory.path). Do not edit.\n\n"
        var modules: [(name: String, path: String)] = [("thalo", sdk.path), ("thalo_generated", generated.path)]
        var taken: Set<String> = ["thalo", "thalo_generated"]
        for file in sources.rustFiles {
            let stem = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
            var name = RustGuestGenerator.identifier(String(stem.map { $0.isLetter || $0.isNumber ? $0 : "_" }))
            while !taken.insert(name).inserted { name += "_" }
            modules.append((name, sources.directory.appendingPathComponent(file).path))
        }
        for module in modules {
            text += "#[path = \(rustStringLiteral(module.path))]\npub mod \(module.name);\n\n"
        }
        text += "pub use thalo::prelude::*;\n"
        for module in modules.dropFirst() { text += "pub use \(module.name)::*;\n" }
        return text
    }

    private static func rustStringLiteral(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    private func createDirectory(_ url: URL) throws(GuestBuildError) {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw GuestBuildError(.outputFailed, "cannot create \(url.path): \(error.localizedDescription)")
        }
    }

    private func write(_ text: String, to url: URL) throws(GuestBuildError) {
        do {
            try text.write(to: url, atomically: true, encoding: .utf8)
        } catch {
            throw GuestBuildError(.outputFailed, "cannot write \(url.path): \(error.localizedDescription)")
        }
    }
}

/// `BankAccount` → `bank_account`.
func snakeCase(_ name: String) -> String {
    var result = ""
    let characters = Array(name)
    for (index, character) in characters.enumerated() {
        if character.isUppercase, index > 0 {
            let previous = characters[index - 1]
            let nextIsLower = index + 1 < characters.count && characters[index + 1].isLowercase
            if previous.isLowercase || previous.isNumber || (previous.isUppercase && nextIsLower) { result += "_" }
        }
        result += character.lowercased()
    }
    return result
}
