import Foundation
import GuestBuilder

/// The example aggregates, built once per test process with the real toolchain.
public actor ExampleModules {
    public static let shared = ExampleModules()

    /// A built example: its ESDL source and wasm binary.
    public struct Built: Sendable {
        public var name: String
        public var schema: String
        public var wasm: [UInt8]
        public var result: BuildResult
    }

    private var builds: [String: Task<Built, any Error>] = [:]

    /// The repository's root folder (found from this source file's path).
    public static let repositoryRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    /// The folder of an example, e.g. `bank_account`.
    public static func folder(_ example: String) -> URL {
        repositoryRoot.appendingPathComponent("Examples").appendingPathComponent(example)
    }

    /// Builds an example (once) and returns it.
    public func build(_ example: String) async throws -> Built {
        if let existing = builds[example] { return try await existing.value }
        let task = Task<Built, any Error> {
            let folder = Self.folder(example)
            let output = FileManager.default.temporaryDirectory.appendingPathComponent("thalo-examples-\(getpid())")
                .appendingPathComponent(example)
            let builder = GuestBuilder(configuration: .init(outputDirectory: output))
            let result = try await builder.build(directory: folder)
            let esdl = try FileManager.default.contentsOfDirectory(atPath: folder.path).first { $0.hasSuffix(".esdl") }!
            let schema = try String(contentsOf: folder.appendingPathComponent(esdl), encoding: .utf8)
            let wasm = try [UInt8](Data(contentsOf: result.wasmURL))
            return Built(name: example, schema: schema, wasm: wasm, result: result)
        }
        builds[example] = task
        return try await task.value
    }
}
