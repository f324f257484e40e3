import JSON

/// Checking JSON payloads against the schema, as the runtime does at its boundary before
/// any wasm runs (commands) and before writing what a module returned (events).
///
/// The rules, for a field or parameter of type:
/// - `String`: a JSON string. `Bool`: `true` or `false`.
/// - `Int`: an integer in the 32-bit signed range; `Long`: in the 64-bit range. A number
///   written with a fraction or exponent (`3.0`, `1e2`) is accepted when its value is
///   exactly an integer in range.
/// - `Float`, `Double`: any JSON number.
/// - `Bytes`: a string of standard, padded base64 (RFC 4648 §4, no line breaks).
/// - `T?`: absent, `null`, or a valid `T`. A required field may be neither absent nor `null`.
/// - `[T]`: an array whose every element is a valid `T` (errors name the index).
/// - a custom type: an object checked by the same rules against the type's fields.
/// - Objects may not carry fields the schema does not declare.
///
/// Each check first runs a fast pass that allocates nothing and answers valid or not; only
/// an invalid payload is walked again to collect every error with its path.
extension Schema {
    /// How deeply a payload may nest objects and arrays before it is rejected.
    public static let maximumPayloadDepth = 512
    /// How many problems a validation lists; past them one ``PayloadError/Code/moreProblems``
    /// entry gives the count of the rest, so that a payload with millions of wrong fields
    /// gets a short report.
    public static let maximumListedProblems = 100

    /// Checks a command's payload: a JSON object of the command's parameters.
    ///
    /// - Returns: Every problem found, or an empty array when the payload is valid. An
    ///   unknown command gives one error of code ``PayloadError/Code/unknownCommand``.
    public func validateCommand(_ name: String, payload: JSONValue) -> [PayloadError] {
        guard let command = command(named: name) else { return [unknownCommandError(name)] }
        if conforms(payload, toFields: command.parameters, depth: 0) { return [] }
        var collector = PayloadCollector(schema: self)
        collector.checkObject(payload, fields: command.parameters, expected: "an object with the parameters of command '\(name)'", depth: 0)
        return collector.errors
    }

    /// Whether a command's payload is valid: the allocation-free fast path of
    /// ``validateCommand(_:payload:)`` for hot loops. An unknown command is not valid.
    public func isValidCommand(_ name: String, payload: JSONValue) -> Bool {
        guard let command = command(named: name) else { return false }
        return conforms(payload, toFields: command.parameters, depth: 0)
    }

    /// Checks an event's payload: a JSON object of the event's fields.
    ///
    /// - Returns: Every problem found, or an empty array when the payload is valid. An
    ///   unknown event type gives one error of code ``PayloadError/Code/unknownEvent``.
    public func validateEvent(_ type: String, payload: JSONValue) -> [PayloadError] {
        guard let event = event(named: type) else { return [unknownEventError(type)] }
        if conforms(payload, toFields: event.fields, depth: 0) { return [] }
        var collector = PayloadCollector(schema: self)
        collector.checkObject(payload, fields: event.fields, expected: "an object with the fields of event '\(type)'", depth: 0)
        return collector.errors
    }

    /// Whether an event's payload is valid: the allocation-free fast path of
    /// ``validateEvent(_:payload:)``. An unknown event type is not valid.
    public func isValidEvent(_ type: String, payload: JSONValue) -> Bool {
        guard let event = event(named: type) else { return false }
        return conforms(payload, toFields: event.fields, depth: 0)
    }

    /// Checks the event types a command's handler returned against the command's
    /// declaration (see ``CommandReturn``): only the events listed, each at most once and
    /// in the order written, and every required one (unless the whole tuple is optional and
    /// nothing was returned). Errors about a particular event have the path `events[i]`.
    public func validateReturnedEvents(command name: String, events: [String]) -> [PayloadError] {
        guard let command = command(named: name) else { return [unknownCommandError(name)] }
        let returns = command.returns
        // Written only into errors: a valid return (the common case) does not pay for it.
        var declared: String { returns.canonicalText }
        if events.isEmpty && returns.tupleIsOptional { return [] }
        var errors: [PayloadError] = []
        var next = 0  // the first element not yet matched
        func requireUpTo(_ end: Int) {
            for element in returns.elements[next..<end] where !element.isOptional {
                errors.append(
                    PayloadError(
                        .missingEvent, path: "",
                        message: "command '\(name)' must return '\(element.event)' (it returns \(declared)), but did not"))
            }
        }
        for (index, type) in events.enumerated() {
            guard let position = returns.elements.firstIndex(where: { $0.event == type }) else {
                errors.append(
                    PayloadError(
                        .unexpectedEvent, path: "events[\(index)]",
                        message: "command '\(name)' does not return '\(Parser.shorten(type))'; it returns \(declared)"))
                continue
            }
            guard position >= next else {
                let problem = events[..<index].contains(type) ? "more than once" : "out of order"
                errors.append(
                    PayloadError(
                        .eventOrder, path: "events[\(index)]",
                        message: "command '\(name)' returned '\(type)' \(problem); it returns \(declared), in that order, each at most once"
                    ))
                continue
            }
            requireUpTo(position)
            next = position + 1
        }
        requireUpTo(returns.elements.count)
        return errors
    }

    /// Checks the events a command's handler returned, types and payloads: everything
    /// ``validateReturnedEvents(command:events:)-([String])`` checks, plus each payload of
    /// an allowed event type, with paths such as `events[0].amount`.
    public func validateReturnedEvents(
        command name: String, events: [(type: String, payload: JSONValue)]
    ) -> [PayloadError] {
        var errors = validateReturnedEvents(command: name, events: events.map(\.type))
        guard let command = command(named: name) else { return errors }
        for (index, event) in events.enumerated() where command.returns.events.contains(event.type) {
            guard let definition = self.event(named: event.type) else { continue }
            if conforms(event.payload, toFields: definition.fields, depth: 0) { continue }
            var collector = PayloadCollector(schema: self, prefix: [.index(index)], root: "events")
            collector.checkObject(
                event.payload, fields: definition.fields,
                expected: "an object with the fields of event '\(event.type)'", depth: 0)
            errors += collector.errors
        }
        return errors
    }

    private func unknownCommandError(_ name: String) -> PayloadError {
        let known = aggregate.commands.map(\.name)
        let expected = known.isEmpty ? "aggregate '\(aggregate.name)' has no commands" : "expected one of \(Validator.list(known))"
        return PayloadError(
            .unknownCommand, path: "",
            message: "unknown command '\(Parser.shorten(name))' for aggregate '\(aggregate.name)'; \(expected)")
    }

    private func unknownEventError(_ type: String) -> PayloadError {
        let known = events.map(\.name)
        let expected = known.isEmpty ? "the schema defines no events" : "expected one of \(Validator.list(known))"
        return PayloadError(.unknownEvent, path: "", message: "unknown event '\(Parser.shorten(type))'; \(expected)")
    }

    // MARK: - Fast pass

    private func conforms(_ value: JSONValue, toFields fields: [Field], depth: Int) -> Bool {
        guard depth < Schema.maximumPayloadDepth, case .object(let members) = value else { return false }
        var present = 0
        for field in fields {
            if let member = members[field.name] {
                present += 1
                guard conforms(member, to: field.type, depth: depth + 1) else { return false }
            } else if !field.type.isOptional {
                return false
            }
        }
        // Every key matched a field, so no unknown field is present.
        return present == members.count
    }

    private func conforms(_ value: JSONValue, to type: TypeReference, depth: Int) -> Bool {
        switch type {
        case .optional(let wrapped):
            if case .null = value { return true }
            return conforms(value, to: wrapped, depth: depth)
        case .scalar(let scalar):
            return Schema.scalarProblem(value, scalar) == nil
        case .array(let element):
            guard depth < Schema.maximumPayloadDepth, case .array(let elements) = value else { return false }
            for item in elements where !conforms(item, to: element, depth: depth + 1) {
                return false
            }
            return true
        case .custom(let name):
            guard let definition = self.type(named: name) else { return false }
            return conforms(value, toFields: definition.fields, depth: depth)
        }
    }

    /// What is wrong with a value for a scalar type, or `nil` if nothing.
    static func scalarProblem(_ value: JSONValue, _ scalar: Scalar) -> ScalarProblem? {
        switch (scalar, value) {
        case (.string, .string), (.bool, .bool), (.float, .integer), (.float, .double), (.double, .integer),
            (.double, .double):
            return nil
        case (.int, .integer(let number)):
            return Int32(exactly: number) == nil ? .outOfRange : nil
        case (.int, .double(let number)):
            guard let integer = integral(number) else { return .mismatch }
            return integer.inRange && Int32(exactly: integer.value) != nil ? nil : .outOfRange
        case (.long, .integer):
            return nil
        case (.long, .double(let number)):
            guard let integer = integral(number) else { return .mismatch }
            return integer.inRange ? nil : .outOfRange
        case (.bytes, .string(let text)):
            return Base64.isValid(text) ? nil : .invalidBase64
        default:
            return .mismatch
        }
    }

    /// Whether a double is an integer (`nil` if not), and its value when it fits in 64 bits.
    private static func integral(_ number: Double) -> (value: Int64, inRange: Bool)? {
        guard number.isFinite else { return nil }
        // Every double of magnitude 2^63 or more is an integer, and too large.
        if number >= 9_223_372_036_854_775_808.0 || number < -9_223_372_036_854_775_808.0 { return (0, false) }
        guard let value = Int64(exactly: number) else { return nil }
        return (value, true)
    }

    enum ScalarProblem {
        case mismatch
        case outOfRange
        case invalidBase64
    }
}

/// The slow pass: walks an invalid payload and records every problem with its path.
struct PayloadCollector {
    enum Component {
        case key(String)
        case index(Int)
    }

    let schema: Schema
    private var components: [Component]
    private let root: String
    private var listed: [PayloadError] = []
    private var unlisted = 0

    /// The problems found: the first ``Schema/maximumListedProblems``, then a count of the rest.
    var errors: [PayloadError] {
        guard unlisted > 0 else { return listed }
        return listed + [
            PayloadError(
                .moreProblems, path: "",
                message: "\(unlisted) more problem\(unlisted == 1 ? "" : "s") not listed (only the first \(listed.count) are)")
        ]
    }

    init(schema: Schema, prefix: [Component] = [], root: String = "") {
        self.schema = schema
        self.components = prefix
        self.root = root
    }

    private var path: String {
        var text = root
        for component in components {
            switch component {
            case .key(let key):
                if !text.isEmpty { text += "." }
                text += key
            case .index(let index):
                text += "[\(index)]"
            }
        }
        return text
    }

    private mutating func report(_ code: PayloadError.Code, _ message: String) {
        guard listed.count < Schema.maximumListedProblems else {
            unlisted += 1
            return
        }
        listed.append(PayloadError(code, path: path, message: message))
    }

    mutating func checkObject(_ value: JSONValue, fields: [Field], expected: String, depth: Int) {
        guard depth < Schema.maximumPayloadDepth else {
            report(.tooDeep, "the payload nests more than \(Schema.maximumPayloadDepth) levels deep")
            return
        }
        guard case .object(let members) = value else {
            report(.typeMismatch, "expected \(expected), found \(SchemaJSONDecoder.describe(value))")
            return
        }
        for field in fields {
            components.append(.key(field.name))
            if let member = members[field.name] {
                check(member, field.type, depth: depth + 1)
            } else if !field.type.isOptional {
                report(.missingField, "missing required field")
            }
            components.removeLast()
        }
        if members.count > fields.count || !members.keys.allSatisfy({ key in fields.contains { $0.name == key } }) {
            let names = fields.map(\.name)
            let expectation = names.isEmpty ? "expected no fields" : "expected one of \(Validator.list(names))"
            for key in members.keys.sorted() where !names.contains(key) {
                components.append(.key(key))
                report(.unknownField, "unknown field; \(expectation)")
                components.removeLast()
            }
        }
    }

    private mutating func check(_ value: JSONValue, _ type: TypeReference, depth: Int) {
        switch type {
        case .optional(let wrapped):
            if case .null = value { return }
            check(value, wrapped, depth: depth)
        case .scalar(let scalar):
            switch Schema.scalarProblem(value, scalar) {
            case nil:
                break
            case .mismatch:
                report(.typeMismatch, "expected \(scalar.rawValue), found \(SchemaJSONDecoder.describe(value))")
            case .outOfRange:
                let width = scalar == .int ? "32-bit" : "64-bit"
                report(
                    .outOfRange,
                    "expected \(scalar.rawValue) (\(width)), found \(SchemaJSONDecoder.describe(value)) which is out of range")
            case .invalidBase64:
                report(
                    .invalidBase64,
                    "expected Bytes (base64), found \(SchemaJSONDecoder.describe(value)) which is not valid base64")
            }
        case .array(let element):
            guard depth < Schema.maximumPayloadDepth else {
                report(.tooDeep, "the payload nests more than \(Schema.maximumPayloadDepth) levels deep")
                return
            }
            guard case .array(let elements) = value else {
                report(.typeMismatch, "expected \(type), found \(SchemaJSONDecoder.describe(value))")
                return
            }
            for (index, item) in elements.enumerated() {
                components.append(.index(index))
                check(item, element, depth: depth + 1)
                components.removeLast()
            }
        case .custom(let name):
            guard let definition = schema.type(named: name) else {
                report(.typeMismatch, "the schema does not define type '\(name)'")
                return
            }
            checkObject(value, fields: definition.fields, expected: "\(name) (an object)", depth: depth)
        }
    }
}

// MARK: - Normalising integral numbers

extension Schema {
    /// The command's payload with every number at an `Int` or `Long` position written as an
    /// integer: `3.0` and `3e0` become `3`.
    ///
    /// Validation accepts such numbers when their value is an exact integer in range; the
    /// runtime hands the normalised payload to the module, so a guest never sees a fraction
    /// or an exponent in an integer field. Call it on a valid payload; other values are
    /// returned unchanged.
    public func normalizingIntegers(command name: String, payload: JSONValue) -> JSONValue {
        guard let command = command(named: name) else { return payload }
        return normalized(payload, fields: command.parameters, depth: 0) ?? payload
    }

    /// The value with integral numbers normalised, or nil when nothing had to change (the
    /// common case, which then allocates nothing).
    private func normalized(_ value: JSONValue, fields: [Field], depth: Int) -> JSONValue? {
        guard depth < Schema.maximumPayloadDepth, case .object(var members) = value else { return nil }
        var changed = false
        for field in fields {
            guard let member = members[field.name], let replacement = normalized(member, type: field.type, depth: depth + 1)
            else { continue }
            members[field.name] = replacement
            changed = true
        }
        return changed ? .object(members) : nil
    }

    private func normalized(_ value: JSONValue, type: TypeReference, depth: Int) -> JSONValue? {
        switch type {
        case .optional(let wrapped):
            return normalized(value, type: wrapped, depth: depth)
        case .scalar(.int), .scalar(.long):
            guard case .double(let number) = value, number.isFinite, let integer = Int64(exactly: number) else { return nil }
            return .integer(integer)
        case .scalar:
            return nil
        case .array(let element):
            guard depth < Schema.maximumPayloadDepth, case .array(var elements) = value else { return nil }
            var changed = false
            for index in elements.indices {
                guard let replacement = normalized(elements[index], type: element, depth: depth + 1) else { continue }
                elements[index] = replacement
                changed = true
            }
            return changed ? .array(elements) : nil
        case .custom(let name):
            guard let definition = self.type(named: name) else { return nil }
            return normalized(value, fields: definition.fields, depth: depth)
        }
    }
}
