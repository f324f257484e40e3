import ESDL
import Foundation
import Testing

/// Paths and helpers shared by the code generation and guest build tests.
enum Fixtures {
    /// The repository root, found from this file (symlinks resolved, so that a scratch
    /// package linking this folder still finds the repository).
    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent()  // ESDLCodegenTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()

    static let goldenDirectory = repositoryRoot.appendingPathComponent("Tests/ESDLCodegenTests/Golden")
    static let examplesDirectory = repositoryRoot.appendingPathComponent("Examples")

    /// The schemas with golden files: the three seed examples and everything.esdl.
    static let goldenSchemas: [(golden: String, esdl: String)] = [
        ("bank_account", "bank_account/bank_account.esdl"),
        ("counter", "counter/counter.esdl"),
        ("todos", "todos/todos.esdl"),
        ("everything", "schemas/everything.esdl"),
    ]

    /// Parses an ESDL file under `Examples/`.
    static func schema(_ relativePath: String) throws -> Schema {
        let url = examplesDirectory.appendingPathComponent(relativePath)
        return try Schema.parse(try String(contentsOf: url, encoding: .utf8), file: url.lastPathComponent)
    }

    /// A fresh temporary folder.
    static func temporaryDirectory(_ label: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("thalo-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Copies an example folder (without build output) into a temporary folder.
    static func copyOfExample(_ name: String) throws -> URL {
        let destination = try temporaryDirectory(name).appendingPathComponent(name)
        try FileManager.default.copyItem(at: examplesDirectory.appendingPathComponent(name), to: destination)
        try? FileManager.default.removeItem(at: destination.appendingPathComponent(".build"))
        return destination
    }

    /// Whether golden files are being re-recorded (`THALO_RECORD_GOLDEN=1`).
    static var isRecording: Bool { ProcessInfo.processInfo.environment["THALO_RECORD_GOLDEN"] == "1" }

    /// Compares `text` with the golden file, or records it when `THALO_RECORD_GOLDEN=1`.
    static func expectMatchesGolden(_ text: String, named name: String, sourceLocation: Testing.SourceLocation = #_sourceLocation)
        throws
    {
        let url = goldenDirectory.appendingPathComponent(name)
        if isRecording {
            try FileManager.default.createDirectory(at: goldenDirectory, withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        guard let golden = try? String(contentsOf: url, encoding: .utf8) else {
            Issue.record("missing golden file \(url.path); run with THALO_RECORD_GOLDEN=1 to record it", sourceLocation: sourceLocation)
            return
        }
        if golden != text {
            Issue.record(
                "generated code differs from \(name) (first difference at line \(firstDifferentLine(golden, text))); if the change is intended, re-record with THALO_RECORD_GOLDEN=1",
                sourceLocation: sourceLocation)
        }
    }

    static func firstDifferentLine(_ lhs: String, _ rhs: String) -> String {
        let left = lhs.split(separator: "\n", omittingEmptySubsequences: false)
        let right = rhs.split(separator: "\n", omittingEmptySubsequences: false)
        for index in 0..<max(left.count, right.count) {
            let a = index < left.count ? String(left[index]) : "<end>"
            let b = index < right.count ? String(right[index]) : "<end>"
            if a != b { return "\(index + 1): golden `\(a)`, generated `\(b)`" }
        }
        return "none"
    }
}
