import ESDL
import Foundation
import JSON
import MessageStore

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
                guard error.count == 1, let (kind, message) = error.first, Self.errorKinds.contains(kind) else {
                    throw fail(
                        "then.error must have exactly one key: " + Self.errorKinds.joined(separator: ", ")
                            + "; got " + (error.keys.sorted().joined(separator: ", ")))
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

    /// The keys `then.error` may have: the module's error cases, and `invalidPayload` for a
    /// `when` payload the server refuses before the module sees it.
    static let errorKinds = [
        "command", "ignore", "deserializeCommand", "deserializeEvent", "unknownCommand", "unknownEvent", "invalidPayload",
    ]

    /// Runs every scenario on a fresh entity of `module`, in one instance.
    ///
    /// - Throws: ``RuntimeError`` `unknownAggregate` when the spec's `aggregate` is not the
    ///   module's.
    ///
    /// Scenarios see what the server would do: a `when` payload is checked against the
    /// schema first (an invalid one is the error `invalidPayload`, and the module is not
    /// called) and its integral numbers are handed over as integers; returned events are
    /// checked against the schema (events the server would refuse are a failure). Expected
    /// and actual JSON are compared by value: `0` equals `0.0`, and a missing field equals `null`.
    public func run(_ module: AggregateModule) throws(RuntimeError) -> [Result] {
        guard aggregate == module.name else {
            throw RuntimeError(
                .unknownAggregate, "the spec is for aggregate \(aggregate), but the module implements \(module.name)",
                aggregate: aggregate)
        }
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
                // The server refuses an invalid payload with 400 before the module sees it.
                var payloadProblems: [PayloadError] = []
                if problems.isEmpty, module.schema.command(named: scenario.command) != nil {
                    payloadProblems = module.schema.validateCommand(scenario.command, payload: scenario.payload)
                }
                if problems.isEmpty, !payloadProblems.isEmpty {
                    let message = payloadProblems.map(\.description).joined(separator: "; ")
                    if let expected = scenario.expectedError, expected.kind == "invalidPayload" {
                        if let text = expected.message, text != message {
                            problems.append("expected error invalidPayload \"\(text)\", got invalidPayload \"\(message)\"")
                        }
                    } else {
                        problems.append(
                            "when.payload is not a valid \(scenario.command) payload, so the server answers 400 invalidPayload and the module "
                                + "never sees it: \(message) (expect {\"invalidPayload\": …} to test that)")
                    }
                } else if problems.isEmpty {
                    let payload = module.schema.normalizingIntegers(command: scenario.command, payload: scenario.payload)
                    switch try guest.handle(handle, command: scenario.command, payload: payload.jsonText, context: context) {
                    case .success(let events):
                        let refused = module.schema.problems(returnedBy: scenario.command, events: events)
                        if !refused.isEmpty {
                            problems.append(
                                "the module returned events the server refuses (500 invalidEvents, nothing written): "
                                    + refused.map(\.description).joined(separator: "; "))
                        }
                        if let expected = scenario.expectedEvents {
                            let actual = events.map { ($0.type, (try? JSONValue(parsing: $0.payload)) ?? .string($0.payload)) }
                            if actual.count != expected.count
                                || zip(actual, expected).contains(where: { $0.0 != $1.type || !Self.matches($1.payload, $0.1) })
                            {
                                problems.append("expected events \(Self.describe(expected)), got \(Self.describe(actual))")
                            }
                        } else if let error = scenario.expectedError {
                            let got = Self.describe(events.map { ($0.type, (try? JSONValue(parsing: $0.payload)) ?? .null) })
                            let message = error.message.map { " \"\($0)\"" } ?? ""
                            problems.append("expected error \(error.kind)\(message), got events \(got)")
                        }
                        // Applied with the metadata the server writes (causation position and all).
                        let metadata = Metadata.events(
                            of: Self.id(1_000 + index), stream: StreamName(unchecked: "\(category):command-\(id)"),
                            position: scenario.position, globalPosition: context.globalPosition,
                            commandMetadata: (try? Metadata(json: scenario.commandMetadata)) ?? Metadata(),
                            digest: CommandDigest(command: scenario.command, payloadText: payload.jsonText), module: module
                        ).jsonText
                        var recorded: [GuestRecordedEvent] = []
                        for (offset, event) in events.enumerated() {
                            let position = Int64(given.count + offset)
                            let context = GuestContext(
                                id: Self.id(2_000 + offset).lowercasedText, streamName: stream, position: position,
                                globalPosition: position + 1, metadata: metadata, time: time)
                            recorded.append(GuestRecordedEvent(type: event.type, payload: event.payload, context: context))
                        }
                        if let failure = try guest.apply(handle, events: recorded) {
                            problems.append("applying the returned events failed: \(Self.describe(failure))")
                        }
                    case .failure(let error):
                        if let expected = scenario.expectedError {
                            let (kind, message) = Self.parts(error)
                            if kind != expected.kind || (expected.message != nil && expected.message != message) {
                                problems.append(
                                    "expected error \(expected.kind) \(expected.message.map { "\"\($0)\"" } ?? "(any message)"), got \(Self.describe(error))"
                                )
                            }
                        } else {
                            problems.append("expected events, got error \(Self.describe(error))")
                        }
                    }
                }
                if problems.isEmpty, let expectedState = scenario.expectedState {
                    let state = try guest.state(handle).flatMap { try? JSONValue(parsing: $0) }
                    if !(state.map { Self.matches(expectedState, $0) } ?? false) {
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

    /// Whether `actual` is what `expected` describes, comparing by value: numbers by their
    /// numeric value (`0` and `0.0` are equal), objects key by key with a missing key
    /// equal to `null` (optional fields "may be absent or null"), arrays element by element.
    static func matches(_ expected: JSONValue, _ actual: JSONValue) -> Bool {
        switch (expected, actual) {
        case (.integer(let a), .double(let b)), (.double(let b), .integer(let a)):
            return Double(a) == b
        case (.object(let a), .object(let b)):
            for key in Set(a.keys).union(b.keys) where !matches(a[key] ?? .null, b[key] ?? .null) { return false }
            return true
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { matches($0, $1) }
        default:
            return expected == actual
        }
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
