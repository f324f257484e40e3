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
/// A **C** folder (`.c` files and no Swift) implements the contract by hand; its files are
/// compiled with clang for wasm32 and linked the same way (see `Examples/c_counter`).
///
/// Test files are not part of the module: anything under a `Tests` or `tests` folder,
/// files named `*Tests.swift` or `*Test.swift`, hidden folders and `.build`.
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

            var clangFlag: String {
                switch self {
                case .size: "-Oz"
                case .speed: "-O2"
                case .none: "-O0"
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
    public static let requiredExports: [String] = {
        let prefix = "thalo:aggregate/aggregate@0.1.0#"
        let functions = ["abi-version", "new-entity", "apply", "handle", "state", "drop-entity"].map { prefix + $0 }
        let post = ["apply", "handle", "state"].map { "cabi_post_" + prefix + $0 }
        return ["memory", "cabi_realloc"] + functions + post
    }()

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
        do {
            try FileManager.default.createDirectory(at: workDirectory, withIntermediateDirectories: true)
        } catch {
            throw GuestBuildError(.outputFailed, "cannot create \(workDirectory.path): \(error.localizedDescription)")
        }

        var objects: [URL] = []
        var libraries: [URL] = []
        var diagnostics = ""
        var generatedSourceURL: URL?
        switch sources.language {
        case .swift:
            let generated = SwiftGuestGenerator(schema: schema, fileName: sources.schemaURL.lastPathComponent).generate()
            let generatedURL = workDirectory.appendingPathComponent(baseName + ".generated.swift")
            let sdkDirectory = workDirectory.appendingPathComponent("sdk")
            try write(generated, to: generatedURL)
            try FileManager.default.createDirectory(at: sdkDirectory.appendingPathComponent("Sources"), withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: sdkDirectory.appendingPathComponent("shim"), withIntermediateDirectories: true)
            for file in GuestSDKSources.files {
                try write(file.contents + "\n", to: sdkDirectory.appendingPathComponent(file.path))
            }
            generatedSourceURL = generatedURL
            let sdkSwiftFiles = GuestSDKSources.files.filter { $0.path.hasSuffix(".swift") }
                .map { sdkDirectory.appendingPathComponent($0.path).path }
            let shimURL = sdkDirectory.appendingPathComponent("shim/thalo_shim.c")
            let swiftObject = workDirectory.appendingPathComponent("guest.o")
            let shimObject = workDirectory.appendingPathComponent("thalo_shim.o")
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
                ["--target=wasm32", "-O2", "-nostdlib", "-mbulk-memory", "-c", shimURL.path, "-o", shimObject.path])
            let (swift, shim) = try await (swiftResult, shimResult)
            guard swift.status == 0 else {
                // The author's mistakes first: the generated file, compiled before theirs, often
                // reports the same mistake where it calls their code.
                let output = CompilerDiagnostics.authorFirst(swift.output, authorFiles: sources.swiftFiles)
                throw GuestBuildError(
                    .compileFailed, "swiftc failed to compile the \(schema.aggregate.name) module:\n" + output,
                    hint: "the generated code is in \(generatedURL.path); implement `struct \(schema.aggregate.name): \(schema.aggregate.name)Aggregate`")
            }
            guard shim.status == 0 else {
                throw GuestBuildError(.compileFailed, "clang failed to compile the guest shim:\n" + shim.output)
            }
            diagnostics = swift.output
            objects = [swiftObject, shimObject]
            if FileManager.default.fileExists(atPath: toolchain.unicodeDataTables.path) {
                libraries.append(toolchain.unicodeDataTables)
            }
        case .c:
            let flags = ["--target=wasm32", configuration.optimization == .none ? "-O0" : "-O2", "-nostdlib", "-mbulk-memory"]
            let results = try await withThrowingTaskGroup(of: (URL, ToolOutput).self) { group in
                for (index, file) in sources.cFiles.enumerated() {
                    let object = workDirectory.appendingPathComponent("\(index)-" + URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent + ".o")
                    group.addTask {
                        (object, try await runTool(toolchain.clang, flags + ["-c", file, "-o", object.path], in: sources.directory))
                    }
                }
                var results: [(URL, ToolOutput)] = []
                for try await result in group { results.append(result) }
                return results.sorted { $0.0.path < $1.0.path }
            }
            for (object, result) in results {
                guard result.status == 0 else {
                    throw GuestBuildError(.compileFailed, "clang failed:\n" + result.output)
                }
                diagnostics += result.output
                objects.append(object)
            }
        }

        let link = try await runTool(
            toolchain.wasmLinker,
            ["--no-entry", "--strip-all", "--gc-sections"] + objects.map(\.path) + libraries.map(\.path) + ["-o", wasmURL.path])
        guard link.status == 0 else {
            throw GuestBuildError(.linkFailed, "wasm-ld failed:\n" + link.output,
                hint: sources.language == .c ? "a C module must define every function it uses; there is no libc" : nil)
        }
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: wasmURL))
        } catch {
            throw GuestBuildError(.outputFailed, "cannot read \(wasmURL.path): \(error.localizedDescription)")
        }
        guard let inspection = WasmModuleInspection(bytes) else {
            throw GuestBuildError(.linkFailed, "wasm-ld wrote something that is not a wasm module: \(wasmURL.path)")
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
            language: sources.language, generatedSourceURL: generatedSourceURL, diagnostics: diagnostics)
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
