import ChildProcess
import Foundation

/// The outcome of running a tool.
struct ToolOutput: Sendable {
    var status: Int32
    var output: String
}

/// Runs a tool to completion on a thread of its own (never blocking a Swift concurrency
/// thread), with its standard output and error together.
func runTool(_ executable: URL, _ arguments: [String], in directory: URL? = nil) async throws -> ToolOutput {
    let result = try await ChildProcess.output(executable.path, arguments, currentDirectory: directory?.path)
    return ToolOutput(status: result.status, output: result.combined)
}
