import ESDL
import Foundation
import JSON

/// Given-when-then scenarios for an aggregate module, run against the module itself
/// (no store): given these events, when this command, then these events or this error,
/// and optionally this state.
///
/// The file format is the one `thalo new` writes (see `Scaffold` in GuestBuilder):
///
/// ```json
/// { "aggregate": "BankAccount",
///   "scenarios": [
///     { "name": "an account opens only once",
///       "given": [{ "type": "OpenedAccount", "payload": { "initial_balance": 100 } }],
///       "when": { "command": "open_account", "payload": { "initial_balance": 5 } },
///       "then": { "error": { "command": "account is already open" } } } ] }
/// ```
///
/// ```swift
/// let spec = try AggregateSpec(jsonText: text)
/// let results = try spec.run(module)
/// for failure in results where !failure.passed { print(failure.name, failure.problems) }
/// ```
public struct AggregateSpec: Sendable {
    /// One scenario.
    public struct Scenario: Sendable {
        public var name: String
        public var given: [(type: String, payload: JSONValue, metadata: JSONValue)]
        public var command: String
        public var payload: JSONValue
        public var position: Int64
        public var commandMetadata: JSONValue
        public var expectedEvents: [(type: String, payload: JSONValue)]?
        /// The expected error case and message (nil message: any).
        public var expectedError: (kind: String, message: String?)?
        public var expectedState: JSONValue?
    }

    /// The outcome of one scenario.
    public struct Result: Sendable {
        public var name: String
        /// What did not match; empty when the scenario passed.
        public var problems: [String]
        public var passed: Bool { problems.isEmpty }
    }

    /// The aggregate the scenarios are for.
    public var aggregate: String
    public var scenarios: [Scenario]

    /// Reads a spec file's JSON.
    ///
    /// - Throws: ``RuntimeError`` (`invalidPayload`) naming the scenario and field that is malformed.
    public init(jsonText: String) throws(RuntimeError) {
        let root: JSONValue
        do {
            root = try JSONValue(parsing: jsonText)
        } catch {
            throw RuntimeError(.invalidPayload, "the spec is not valid JSON: \(error)")
        }
        guard let aggregate = root["aggregate"]?.stringValue else {
            throw RuntimeError(.invalidPayload, "the spec needs \"aggregate\": the aggregate's name")
        }
        guard let list = root["scenarios"]?.arrayValue else {
            throw RuntimeError(.invalidPayload, "the spec needs \"scenarios\": an array")
        }
        self.aggregate = aggregate
        var scenarios: [Scenario] = []
        for (index, item) in list.enumerated() {
            let name = item["name"]?.stringValue ?? "scenario \(index + 1)"
            func fail(_ message: String) -> RuntimeError {
                RuntimeError(.invalidPayload, "scenario \"\(name)\" (scenarios[\(index)]): \(message)")
            }
            var given: [(String, JSONValue, JSONValue)] = []
            for (eventIndex, event) in (item["given"]?.arrayValue ?? []).enumerated() {
                guard let type = event["type"]?.stringValue, let payload = event["payload"], payload.objectValue != nil else {
                    throw fail("given[\(eventIndex)] needs \"type\" and an object \"payload\"")
                }
                given.append((type, payload, event["metadata"] ?? .object([:])))
            }
            guard let when = item["when"], let command = when["command"]?.stringValue else {
                throw fail("needs \"when\": { \"command\": …, \"payload\": {…} }")
            }
            guard let then = item["then"] else { throw fail("needs \"then\"") }
            var expectedEvents: [(String, JSONValue)]?
            if let events = then["events"]?.arrayValue {
                expectedEvents = try events.enumerated().map { eventIndex, event throws(RuntimeError) in
                    guard let type = event["type"]?.stringValue else { throw fail("then.events[\(eventIndex)] needs \"type\"") }
                    return (type, event["payload"] ?? .object([:]))
                }
            }
            var expectedError: (String, String?)?
            if let error = then["error"]?.objectValue {
                guard error.count == 1, let (kind, message) = error.first else {
                    throw fail("then.error must have exactly one key: command, ignore, deserializeCommand, deserializeEvent, unknownCommand or unknownEvent")
                }
                expectedError = (kind, message.stringValue)
            }
            if (expectedEvents == nil) == (expectedError == nil) {
                throw fail("then needs exactly one of \"events\" or \"error\"")
            }
            scenarios.append(
                Scenario(
                    name: name, given: given, command: command, payload: when["payload"] ?? .object([:]),
                    position: when["position"]?.integerValue ?? -1, commandMetadata: when["metadata"] ?? .object([:]),
                    expectedEvents: expectedEvents, expectedError: expectedError, expectedState: then["state"]))
        }
        self.scenarios = scenarios
    }

    /// Runs every scenario on a fresh entity of `module`, in one instance.
    public func run(_ module: AggregateModule) throws(RuntimeError) -> [Result] {
        var results: [Result] = []
        var guest = try GuestInstance(module: module)
        let category = module.schema.aggregate.category
        for (index, scenario) in scenarios.enumerated() {
            var problems: [String] = []
            if guest.isPoisoned { guest = try GuestInstance(module: module) }
            do throws(GuestFailure) {
                let id = "spec\(index)"
                let stream = "\(category)-\(id)"
                let handle = try guest.newEntity(id: id)
                defer { if !guest.isPoisoned { try? guest.dropEntity(handle) } }
                let time: Int64 = 1_767_225_600_000_000  // 2026-01-01T00:00:00Z, so that specs are deterministic
                let given = scenario.given.enumerated().map { position, event in
                    GuestRecordedEvent(
                        type: event.type, payload: event.payload.jsonText,
                        context: GuestContext(
                            id: Self.id(position).lowercasedText, streamName: stream,
                            position: Int64(position), globalPosition: Int64(position + 1), metadata: event.metadata.jsonText, time: time))
                }
                if let failure = try guest.apply(handle, events: given) {
                    problems.append("applying the given events failed: \(Self.describe(failure))")
                }
                let context = GuestContext(
                    id: Self.id(1_000 + index).lowercasedText,
                    streamName: "\(category):command-\(id)", position: scenario.position,
                    globalPosition: scenario.position >= 0 ? scenario.position + 1 : -1, metadata: scenario.commandMetadata.jsonText,
                    time: time)
                if problems.isEmpty {
                    switch try guest.handle(handle, command: scenario.command, payload: scenario.payload.jsonText, context: context) {
                    case .success(let events):
                        if let expected = scenario.expectedEvents {
                            let actual = events.map { ($0.type, (try? JSONValue(parsing: $0.payload)) ?? .string($0.payload)) }
                            if actual.count != expected.count || zip(actual, expected).contains(where: { $0.0 != $1.type || $0.1 != $1.payload }) {
                                problems.append("expected events \(Self.describe(expected)), got \(Self.describe(actual))")
                            }
                        } else if let error = scenario.expectedError {
                            let got = Self.describe(events.map { ($0.type, (try? JSONValue(parsing: $0.payload)) ?? .null) })
                            let message = error.message.map { " \"\($0)\"" } ?? ""
                            problems.append("expected error \(error.kind)\(message), got events \(got)")
                        }
                        var recorded: [GuestRecordedEvent] = []
                        for (offset, event) in events.enumerated() {
                            let position = Int64(given.count + offset)
                            let context = GuestContext(
                                id: Self.id(2_000 + offset).lowercasedText, streamName: stream, position: position,
                                globalPosition: position + 1, metadata: "{}", time: time)
                            recorded.append(GuestRecordedEvent(type: event.type, payload: event.payload, context: context))
                        }
                        if let failure = try guest.apply(handle, events: recorded) {
                            problems.append("applying the returned events failed: \(Self.describe(failure))")
                        }
                    case .failure(let error):
                        if let expected = scenario.expectedError {
                            let (kind, message) = Self.parts(error)
                            if kind != expected.kind || (expected.message != nil && expected.message != message) {
                                problems.append("expected error \(expected.kind) \(expected.message.map { "\"\($0)\"" } ?? "(any message)"), got \(Self.describe(error))")
                            }
                        } else {
                            problems.append("expected events, got error \(Self.describe(error))")
                        }
                    }
                }
                if problems.isEmpty, let expectedState = scenario.expectedState {
                    let state = try guest.state(handle).flatMap { try? JSONValue(parsing: $0) }
                    if state != expectedState {
                        problems.append("expected state \(expectedState.jsonText), got \(state?.jsonText ?? "none")")
                    }
                }
            } catch {
                problems.append("the module failed: \(error)")
            }
            results.append(Result(name: scenario.name, problems: problems))
        }
        return results
    }

    /// Deterministic message ids for the scenario's messages.
    private static func id(_ index: Int) -> UUID {
        UUID.derived(from: UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)), index: index)
    }

    private static func parts(_ error: GuestError) -> (String, String?) {
        switch error {
        case .command(let message): ("command", message)
        case .ignore(let reason): ("ignore", reason)
        case .deserializeCommand(let message): ("deserializeCommand", message)
        case .deserializeEvent(let message): ("deserializeEvent", message)
        case .unknownCommand: ("unknownCommand", nil)
        case .unknownEvent: ("unknownEvent", nil)
        }
    }

    private static func describe(_ error: GuestError) -> String {
        let (kind, message) = parts(error)
        return message.map { "\(kind) \"\($0)\"" } ?? kind
    }

    private static func describe(_ events: [(type: String, payload: JSONValue)]) -> String {
        "[" + events.map { "\($0.type) \($0.payload.jsonText)" }.joined(separator: ", ") + "]"
    }
}
