import Foundation

/// The outcome of running a tool.
struct ToolOutput: Sendable {
    var status: Int32
    var output: String
}

/// Runs a tool to completion without blocking a Swift concurrency thread on the wait.
func runTool(_ executable: URL, _ arguments: [String], in directory: URL? = nil) async throws -> ToolOutput {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice
    // Collect output as it comes so that a chatty tool never blocks on a full pipe.
    let collected = OutputCollector()
    pipe.fileHandleForReading.readabilityHandler = { handle in
        let data = handle.availableData
        if !data.isEmpty { collected.append(data) }
    }
    return try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { process in
            pipe.fileHandleForReading.readabilityHandler = nil
            let rest = pipe.fileHandleForReading.readDataToEndOfFile()
            collected.append(rest)
            continuation.resume(returning: ToolOutput(status: process.terminationStatus, output: collected.text))
        }
        do {
            try process.run()
        } catch {
            pipe.fileHandleForReading.readabilityHandler = nil
            continuation.resume(throwing: error)
        }
    }
}

/// Output bytes appended from the pipe's handler thread.
/// `@unchecked Sendable`: every access holds `lock`.
private final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func append(_ chunk: Data) {
        lock.lock()
        data.append(chunk)
        lock.unlock()
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }
}
