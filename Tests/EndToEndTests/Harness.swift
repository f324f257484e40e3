import AsyncHTTPClient
import Foundation
import JSON
import NIOCore
import NIOHTTP1
import TestSupport

/// The built `thalo` executable, next to the test bundle.
enum ThaloBinary {
    static let path: String = {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var folder = URL(fileURLWithPath: executable).deletingLastPathComponent()
        while folder.path != "/" {
            let candidate = folder.appendingPathComponent("thalo").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            folder.deleteLastPathComponent()
        }
        return ExampleModules.repositoryRoot.appendingPathComponent(".build/debug/thalo").path
    }()

    /// Runs `thalo` with arguments and returns what it printed and its exit status.
    @discardableResult
    static func run(_ arguments: [String], input: String? = nil) async throws -> ProcessRunner.Output {
        try await ProcessRunner.output(
            path, arguments, environment: ["NO_COLOR": "1"], currentDirectory: ExampleModules.repositoryRoot.path, input: input)
    }
}

/// A `thalo serve` process on a free port, stopped at the end.
final class ServerProcess: Sendable {
    let process: BackgroundProcess
    let port: Int
    let url: String

    /// Publishes the bank account example (built with Embedded Swift, written to `folder`)
    /// through `thalo publish`; throws with its output when that fails.
    func publishBankAccount(into folder: URL, token: String? = nil) async throws {
        let bank = try await ExampleModules.shared.build("bank_account")
        let module = folder.appendingPathComponent("bank_account.wasm")
        try Data(bank.wasm).write(to: module)
        let schema = folder.appendingPathComponent("bank_account.esdl")
        try bank.schema.write(to: schema, atomically: true, encoding: .utf8)
        let published = try await ThaloBinary.run(
            ["publish", schema.path, module.path, "--url", url] + (token.map { ["--token", $0] } ?? []))
        guard published.status == 0 else { throw HarnessError("thalo publish failed: \(published.combined)") }
    }

    /// Starts `thalo serve` on `port`, or on a free port; when another process takes that free
    /// port before the server listens, on another one (three tries).
    init(_ arguments: [String], port: Int? = nil) async throws {
        var tries = port == nil ? 3 : 1
        while true {
            let port = try port ?? TemporaryPostgres.freePort()
            tries -= 1
            do {
                process = try await Self.start(arguments, port: port)
                self.port = port
                self.url = "http://127.0.0.1:\(port)"
                return
            } catch let error as HarnessError where tries > 0 && error.description.contains("the address is in use") {
                continue
            }
        }
    }

    /// Starts `thalo serve` on `port` and waits until it answers `/health`.
    private static func start(_ arguments: [String], port: Int) async throws -> BackgroundProcess {
        let url = "http://127.0.0.1:\(port)"
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("thalo-serve-\(UUID().uuidString).log").path
        let process = try await BackgroundProcess(
            ThaloBinary.path, ["serve", "--listen", "127.0.0.1:\(port)"] + arguments, environment: ["NO_COLOR": "1"], logPath: log)
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            // A server that cannot listen exits: an answer while it runs is taken as its own.
            if let response = try? await HTTP.get("\(url)/health"), response.status == 200, process.isRunning { return process }
            if !process.isRunning { throw HarnessError("thalo serve exited early:\n\(process.output)") }
            try await Task.sleep(for: .milliseconds(100))
        }
        process.signal(SIGKILL)
        throw HarnessError("thalo serve did not answer /health within 120 s:\n\(process.output)")
    }

    /// Stops the server with SIGTERM and returns its exit status; a server that has not
    /// stopped within `timeout` is killed (SIGKILL, status 137), so a test never hangs on it.
    @discardableResult
    func stop(timeout: Duration = .seconds(60)) async -> Int32 {
        process.signal(SIGTERM)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        process.signal(SIGKILL)
        return await process.wait()
    }

    /// Kills the server (SIGKILL) without waiting, for `defer` at the end of a test.
    func kill() {
        process.signal(SIGKILL)
    }

    deinit {
        process.signal(SIGKILL)
    }
}

/// A few HTTP calls for tests.
enum HTTP {
    struct Response: Sendable {
        var status: Int
        var text: String
        var json: JSONValue { (try? JSONValue(parsing: text)) ?? .null }
        var headers: [(String, String)]
    }

    static func get(_ url: String, headers: [String: String] = [:]) async throws -> Response {
        try await send(url, method: .GET, body: nil, headers: headers)
    }

    static func post(_ url: String, _ body: JSONValue?, headers: [String: String] = [:]) async throws -> Response {
        try await send(url, method: .POST, body: body?.jsonText, headers: headers)
    }

    static func send(_ url: String, method: HTTPMethod, body: String?, headers: [String: String]) async throws -> Response {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let buffer = try await response.body.collect(upTo: 64 << 20)
        return Response(
            status: Int(response.status.code), text: String(buffer: buffer), headers: response.headers.map { ($0.name, $0.value) })
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A temporary folder.
func temporaryFolder(_ name: String) throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("thalo-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
}
