import Foundation
import Subprocess

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// The outcome of running a tool.
struct ToolOutput: Sendable {
    var status: Int32
    var output: String
}

/// Runs a tool (the compiler, the linker) to completion through swift-subprocess, with its
/// standard output and error together, as a terminal would show them.
func runTool(_ executable: URL, _ arguments: [String], in directory: URL? = nil) async throws -> ToolOutput {
    let result = try await Subprocess.run(
        .path(FilePath(executable.path)), arguments: Arguments(arguments), workingDirectory: directory.map { FilePath($0.path) },
        output: .string(limit: 64 << 20), error: .combinedWithOutput)
    let status: Int32
    switch result.terminationStatus {
    case .exited(let code): status = code
    case .signaled(let signal): status = 128 + signal
    }
    return ToolOutput(status: status, output: result.standardOutput)
}
