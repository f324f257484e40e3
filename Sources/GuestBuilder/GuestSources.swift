import ESDL
import Foundation

/// The files of a guest folder: its one ESDL file and its sources, test files excluded.
public struct GuestSources: Sendable, Hashable {
    /// The folder.
    public var directory: URL
    /// The ESDL file.
    public var schemaURL: URL
    /// Swift sources, as paths relative to ``directory``, sorted.
    public var swiftFiles: [String]
    /// C sources, as paths relative to ``directory``, sorted.
    public var cFiles: [String]
    /// Rust sources, as paths relative to ``directory``, sorted.
    public var rustFiles: [String]

    /// The language of the sources: Swift when there is any Swift file, else Rust when
    /// there is any Rust file, else C.
    public var language: GuestLanguage {
        if !swiftFiles.isEmpty { return .swift }
        return rustFiles.isEmpty ? .c : .rust
    }

    /// Finds the files of a guest folder.
    ///
    /// - Throws: ``GuestBuildError`` when the folder cannot be read, has no or several
    ///   ESDL files, or has no Swift, Rust or C sources.
    public init(directory: URL) throws(GuestBuildError) {
        let directory = directory.standardizedFileURL
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw GuestBuildError(.unreadableDirectory, "\(directory.path) is not a folder")
        }
        let files = Self.files(in: directory, relativeTo: "")
        let schemas = files.filter { $0.hasSuffix(".esdl") }
        guard let schema = schemas.first else {
            throw GuestBuildError(
                .missingSchema, "no .esdl file in \(directory.path)",
                hint: "add the aggregate's schema, e.g. `thalo new <name>` creates one")
        }
        guard schemas.count == 1 else {
            throw GuestBuildError(
                .multipleSchemas,
                "\(directory.path) has \(schemas.count) .esdl files (\(schemas.joined(separator: ", "))); a module implements exactly one aggregate",
                hint: "keep one schema per folder")
        }
        self.directory = directory
        self.schemaURL = directory.appendingPathComponent(schema)
        self.swiftFiles = files.filter { $0.hasSuffix(".swift") && !Self.isTestFile($0) }
        self.cFiles = files.filter { $0.hasSuffix(".c") }
        self.rustFiles = files.filter { $0.hasSuffix(".rs") && !Self.isTestFile($0) }
        guard !swiftFiles.isEmpty || !rustFiles.isEmpty || !cFiles.isEmpty else {
            throw GuestBuildError(
                .missingSources, "no Swift, Rust or C sources next to \(schema) in \(directory.path)",
                hint: "write the aggregate in a .swift (or .rs) file next to the schema")
        }
    }

    /// Parses the ESDL file.
    ///
    /// - Throws: ``GuestBuildError/Code/invalidSchema`` with the rendered diagnostics.
    public func parseSchema() throws(GuestBuildError) -> Schema {
        let text: String
        do {
            text = try String(contentsOf: schemaURL, encoding: .utf8)
        } catch {
            throw GuestBuildError(.unreadableDirectory, "cannot read \(schemaURL.path): \(error.localizedDescription)")
        }
        do {
            return try Schema.parse(text, file: schemaURL.lastPathComponent)
        } catch {
            throw GuestBuildError(.invalidSchema, error.rendered(colored: false))
        }
    }

    /// Whether a relative path is a test file: under `Tests`/`tests`, `*Tests.swift`,
    /// `*Test.swift` or `*_test.rs`.
    static func isTestFile(_ path: String) -> Bool {
        let components = path.split(separator: "/")
        if components.dropLast().contains(where: { $0 == "Tests" || $0 == "tests" }) { return true }
        return path.hasSuffix("Tests.swift") || path.hasSuffix("Test.swift") || path.hasSuffix("_test.rs")
    }

    /// Relative paths of the regular files under `directory`, sorted; hidden entries,
    /// `.build` and `Tests`/`tests` folders are skipped.
    private static func files(in directory: URL, relativeTo prefix: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        var result: [String] = []
        for name in names.sorted() where !name.hasPrefix(".") {
            let url = directory.appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { continue }
            if isDirectory.boolValue {
                guard name != "Tests", name != "tests" else { continue }
                result += files(in: url, relativeTo: prefix + name + "/")
            } else {
                result.append(prefix + name)
            }
        }
        return result
    }
}
