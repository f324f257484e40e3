import ArgumentParser
import Foundation
import JSON
import MessageStore

/// A failure of a `thalo` command: what to print and which exit code to end with.
///
/// Exit codes (stable, for scripts): 0 success; 1 other failure; 2 invalid input (bad
/// arguments, payload or module: HTTP 400); 3 the server could not be reached; 4 the
/// aggregate rejected the command (422); 5 not found (404); 6 conflict (409); 7 the
/// server or module failed (5xx); 8 unauthorized (401); 64 usage error.
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var exitCode: Int32
    var json: JSONValue?
    /// The message is compiler-style diagnostics (`file:line:column: error: …`), printed
    /// as they are rather than after `error: `.
    var isDiagnostics = false

    var description: String { message }

    static func unreachable(_ url: String, _ error: any Error) -> CLIError {
        let text = "\(error)"
        let reason: String
        if text.contains("refused") {
            reason = "connection refused"
        } else if text.contains("UnknownHost") || text.contains("DNS") {
            reason = "unknown host"
        } else if text.contains("connectTimeout") {
            reason = "no answer within the connect timeout"
        } else {
            reason = text
        }
        return CLIError(
            message: "cannot reach the Thalo server at \(url) (\(reason)); start it with `thalo serve` or pass --url",
            exitCode: 3)
    }

    static func server(_ response: Client.Response) -> CLIError {
        let error = response.body["error"]
        // A body without the API's error object is not from a Thalo server (a proxy, another service).
        var message =
            error?["message"]?.stringValue
            ?? "the server answered HTTP \(response.status) without a Thalo error"
            + (response.text.isEmpty ? "" : ": \(response.text.prefix(200))") + "; is --url a Thalo server?"
        if let details = error?["details"]?.arrayValue, !details.isEmpty {
            // The message lists the problems on one line; show one per line instead.
            if let colon = message.firstIndex(of: ":"), details.count > 0 { message = String(message[..<colon]) + ":" }
            message += details.map { detail in
                "\n  " + (detail["path"]?.stringValue.map { $0.isEmpty ? "" : "\($0): " } ?? "") + (detail["message"]?.stringValue ?? "")
            }.joined()
        }
        let code = error?["code"]?.stringValue
        let exit: Int32
        switch response.status {
        case 400, 413: exit = 2
        case 401: exit = 8
        case 404: exit = 5
        case 409: exit = 6
        case 422: exit = 4
        case 500...: exit = 7
        default: exit = 1
        }
        var prefix = ""
        if response.status == 422, let aggregate = error?["aggregate"]?.stringValue {
            prefix = "rejected by \(aggregate)\(error?["moduleVersion"]?.stringValue.map { " \($0)" } ?? ""): "
        } else if response.status == 401 {
            prefix = "unauthorized: "
        }
        var hint = ""
        if response.status == 401 { hint = " (pass --token or set THALO_TOKEN)" }
        if code == "unknownAggregate" { hint = " (see `thalo modules`)" }
        return CLIError(message: prefix + message + hint, exitCode: exit, json: response.body)
    }

    /// A failure of a database the CLI talks to itself (`thalo db install`), with the exit
    /// codes an HTTP answer gets: 3 when the database cannot be reached, 2 for a bad
    /// argument (a role that does not exist), 7 for what the database refused.
    static func store(_ error: MessageStoreError) -> CLIError {
        if isUnreachable(error) { return CLIError(message: "\(error)", exitCode: 3) }
        return error.code == .invalidArgument ? input("\(error)") : CLIError(message: "\(error)", exitCode: 7)
    }

    /// Whether a store failure means the database could not be reached or did not answer
    /// (exit 3, for `thalo serve` too).
    static func isUnreachable(_ error: MessageStoreError) -> Bool {
        error.code == .connectionFailed || error.code == .unavailable
    }

    static func input(_ message: String) -> CLIError {
        CLIError(message: message, exitCode: 2)
    }

    /// Schema diagnostics, already rendered with their positions.
    static func diagnostics(_ rendered: String) -> CLIError {
        CLIError(message: rendered.trimmingCharacters(in: .newlines), exitCode: 2, isDiagnostics: true)
    }
}

/// Runs a command body, printing a failure as `error: …` (or JSON) and exiting with its code.
func runReporting(json: Bool, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as CLIError {
        if json, let body = error.json {
            Terminal.print(body.jsonText)
        } else if json {
            Terminal.print(JSONValue.object(["error": .object(["message": .string(error.message)])]).jsonText)
        } else if error.isDiagnostics {
            Terminal.note(error.message)
        } else {
            Terminal.printError(error.message)
        }
        throw ExitCode(error.exitCode)
    }
}
