import JSON

/// The JSON form of a schema, as the registry stores it.
///
/// The shape (keys are written sorted; every key is required; unknown keys are rejected so
/// that a newer form is never half-understood):
///
/// ```json
/// {
///   "aggregate": {
///     "commands": [
///       {
///         "name": "deposit_funds",
///         "parameters": [{"name": "amount", "type": "Int"}],
///         "returns": {
///           "elements": [{"event": "DepositedFunds", "isOptional": false}],
///           "isTuple": false,
///           "tupleIsOptional": false
///         }
///       }
///     ],
///     "name": "BankAccount"
///   },
///   "events": [{"fields": [{"name": "amount", "type": "Int"}], "name": "DepositedFunds"}],
///   "types": [],
///   "version": "0.1.0"
/// }
/// ```
///
/// Types are written in ESDL syntax (`"[String?]?"`, `"Address"`), versions as semver
/// strings. Arrays keep the order of the source. The same shape comes out of `Codable`
/// (``TypeReference`` and ``SemanticVersion`` encode as strings; the other keys are the
/// property names), so `JSONEncoder` with `.sortedKeys` writes the same document.
/// Decoding through `Codable` checks only the shape; ``Schema/init(jsonText:file:)`` also
/// validates the schema by the rules of ESDL source.
extension Schema {
    /// The schema as a JSON value, in the documented shape.
    public var jsonValue: JSONValue {
        .object([
            "version": .string(version.description),
            "aggregate": .object([
                "name": .string(aggregate.name),
                "commands": .array(
                    aggregate.commands.map { command in
                        .object([
                            "name": .string(command.name),
                            "parameters": Schema.json(command.parameters),
                            "returns": .object([
                                "elements": .array(
                                    command.returns.elements.map {
                                        .object(["event": .string($0.event), "isOptional": .bool($0.isOptional)])
                                    }),
                                "isTuple": .bool(command.returns.isTuple),
                                "tupleIsOptional": .bool(command.returns.tupleIsOptional),
                            ]),
                        ])
                    }),
            ]),
            "events": .array(
                events.map { .object(["name": .string($0.name), "fields": Schema.json($0.fields)]) }),
            "types": .array(
                types.map { .object(["name": .string($0.name), "fields": Schema.json($0.fields)]) }),
        ])
    }

    private static func json(_ fields: [Field]) -> JSONValue {
        .array(fields.map { .object(["name": .string($0.name), "type": .string($0.type.description)]) })
    }

    /// The schema as compact JSON text with sorted keys: equal schemas give equal text.
    public var jsonText: String { jsonValue.jsonText }

    /// Reads a schema from its JSON text (see the shape above) and validates it as if it
    /// had been written in ESDL.
    ///
    /// - Throws: ``ESDLError`` with code ``Diagnostic/Code/invalidSchemaJSON`` for
    ///   malformed JSON or a wrong shape (the message names the JSON path), or the ESDL
    ///   diagnostics of the schema's canonical text when the schema itself is invalid
    ///   (an unknown type, a duplicate name, …).
    public init(jsonText: String, file: String = "<schema JSON>") throws(ESDLError) {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: jsonText)
        } catch {
            let location = Schema.location(ofUTF8Offset: error.offset, in: jsonText, file: file)
            throw ESDLError(
                diagnostics: [.error(.invalidSchemaJSON, "invalid schema JSON: \(error.message)", at: location)],
                source: jsonText)
        }
        try self.init(jsonValue: value, file: file)
    }

    /// Reads a schema from its JSON value and validates it; see ``init(jsonText:file:)``.
    public init(jsonValue: JSONValue, file: String = "<schema JSON>") throws(ESDLError) {
        let decoded: Schema
        do {
            decoded = try SchemaJSONDecoder.schema(jsonValue)
        } catch {
            throw ESDLError(
                diagnostics: [
                    .error(
                        .invalidSchemaJSON, "invalid schema JSON: \(error.message)",
                        at: SourceLocation(file: file, line: 1, column: 1, length: 0))
                ],
                source: nil)
        }
        // Validate by the same rules as source: render, re-parse, and insist on equality
        // (a name such as "a b" would not survive the trip).
        let text = decoded.canonicalText
        let analysis = Schema.analyze(text, file: file + " (as ESDL)")
        guard let reparsed = analysis.schema else {
            throw ESDLError(diagnostics: analysis.diagnostics.filter { $0.severity == .error }, source: text)
        }
        guard reparsed == decoded else {
            throw ESDLError(
                diagnostics: [
                    .error(
                        .invalidSchemaJSON, "invalid schema JSON: it does not describe a schema ESDL can express",
                        at: SourceLocation(file: file, line: 1, column: 1, length: 0))
                ],
                source: nil)
        }
        self = decoded
    }

    static func location(ofUTF8Offset offset: Int, in text: String, file: String) -> SourceLocation {
        var line = 1
        var column = 1
        var consumed = 0
        // Line breaks as the renderer splits lines: `\n`, `\r\n` and a lone `\r`.
        var afterCarriageReturn = false
        for scalar in text.unicodeScalars {
            if consumed >= offset { break }
            consumed += UTF8.width(scalar)
            if scalar == "\n" && afterCarriageReturn {
                afterCarriageReturn = false
            } else if scalar == "\n" || scalar == "\r" {
                line += 1
                column = 1
                afterCarriageReturn = scalar == "\r"
            } else {
                column += 1
                afterCarriageReturn = false
            }
        }
        return SourceLocation(file: file, line: line, column: column, length: 1)
    }
}

/// A JSON shape error: the path to the offending value and what was wrong.
struct SchemaJSONError: Error {
    var message: String

    init(_ path: String, _ problem: String) {
        message = path.isEmpty ? problem : "\(path): \(problem)"
    }
}

/// Reads the documented shape strictly, naming the path of any problem.
enum SchemaJSONDecoder {
    static func schema(_ value: JSONValue) throws(SchemaJSONError) -> Schema {
        let members = try object(value, path: "", keys: ["version", "aggregate", "events", "types"])
        let versionText = try string(members["version"], path: "version")
        guard let version = SemanticVersion(versionText) else {
            throw SchemaJSONError("version", "expected a semantic version such as \"0.1.0\", found \(describe(.string(versionText)))")
        }
        let aggregateMembers = try object(members["aggregate"], path: "aggregate", keys: ["name", "commands"])
        let aggregateName = try string(aggregateMembers["name"], path: "aggregate.name")
        var commands: [Command] = []
        for (index, element) in try array(aggregateMembers["commands"], path: "aggregate.commands").enumerated() {
            let path = "aggregate.commands[\(index)]"
            let command = try object(element, path: path, keys: ["name", "parameters", "returns"])
            let returns = try object(command["returns"], path: path + ".returns", keys: ["elements", "isTuple", "tupleIsOptional"])
            var elements: [CommandReturn.Element] = []
            for (elementIndex, element) in try array(returns["elements"], path: path + ".returns.elements").enumerated() {
                let elementPath = path + ".returns.elements[\(elementIndex)]"
                let members = try object(element, path: elementPath, keys: ["event", "isOptional"])
                elements.append(
                    CommandReturn.Element(
                        event: try string(members["event"], path: elementPath + ".event"),
                        isOptional: try bool(members["isOptional"], path: elementPath + ".isOptional")))
            }
            commands.append(
                Command(
                    name: try string(command["name"], path: path + ".name"),
                    parameters: try fields(command["parameters"], path: path + ".parameters"),
                    returns: CommandReturn(
                        elements: elements,
                        isTuple: try bool(returns["isTuple"], path: path + ".returns.isTuple"),
                        tupleIsOptional: try bool(returns["tupleIsOptional"], path: path + ".returns.tupleIsOptional"))))
        }
        var events: [EventDefinition] = []
        for (index, element) in try array(members["events"], path: "events").enumerated() {
            let record = try object(element, path: "events[\(index)]", keys: ["name", "fields"])
            events.append(
                EventDefinition(
                    name: try string(record["name"], path: "events[\(index)].name"),
                    fields: try fields(record["fields"], path: "events[\(index)].fields")))
        }
        var types: [TypeDefinition] = []
        for (index, element) in try array(members["types"], path: "types").enumerated() {
            let record = try object(element, path: "types[\(index)]", keys: ["name", "fields"])
            types.append(
                TypeDefinition(
                    name: try string(record["name"], path: "types[\(index)].name"),
                    fields: try fields(record["fields"], path: "types[\(index)].fields")))
        }
        return Schema(
            version: version, aggregate: Aggregate(name: aggregateName, commands: commands), events: events,
            types: types)
    }

    private static func fields(_ value: JSONValue?, path: String) throws(SchemaJSONError) -> [Field] {
        var fields: [Field] = []
        for (index, element) in try array(value, path: path).enumerated() {
            let fieldPath = "\(path)[\(index)]"
            let field = try object(element, path: fieldPath, keys: ["name", "type"])
            let typeText = try string(field["type"], path: fieldPath + ".type")
            guard let type = TypeReference(typeText) else {
                throw SchemaJSONError(
                    fieldPath + ".type", "expected an ESDL type such as \"Int\" or \"[String?]?\", found \(describe(.string(typeText)))")
            }
            fields.append(Field(name: try string(field["name"], path: fieldPath + ".name"), type: type))
        }
        return fields
    }

    private static func object(_ value: JSONValue?, path: String, keys: [String]) throws(SchemaJSONError) -> [String: JSONValue] {
        guard let value else { throw SchemaJSONError(path, "missing required key") }
        guard case .object(let members) = value else {
            throw SchemaJSONError(path, "expected an object, found \(describe(value))")
        }
        for key in keys where members[key] == nil {
            throw SchemaJSONError(path.isEmpty ? key : "\(path).\(key)", "missing required key")
        }
        if members.count > keys.count {
            let unknown = members.keys.filter { !keys.contains($0) }.sorted()
            let first = unknown[0]
            throw SchemaJSONError(
                path.isEmpty ? first : "\(path).\(first)",
                "unknown key; expected one of \(Validator.list(keys))")
        }
        return members
    }

    private static func array(_ value: JSONValue?, path: String) throws(SchemaJSONError) -> [JSONValue] {
        guard let value else { throw SchemaJSONError(path, "missing required key") }
        guard case .array(let elements) = value else {
            throw SchemaJSONError(path, "expected an array, found \(describe(value))")
        }
        return elements
    }

    private static func string(_ value: JSONValue?, path: String) throws(SchemaJSONError) -> String {
        guard let value else { throw SchemaJSONError(path, "missing required key") }
        guard case .string(let text) = value else {
            throw SchemaJSONError(path, "expected a string, found \(describe(value))")
        }
        return text
    }

    private static func bool(_ value: JSONValue?, path: String) throws(SchemaJSONError) -> Bool {
        guard let value else { throw SchemaJSONError(path, "missing required key") }
        guard case .bool(let flag) = value else {
            throw SchemaJSONError(path, "expected true or false, found \(describe(value))")
        }
        return flag
    }

    /// A short rendering of a JSON value for messages: scalars as JSON text, containers
    /// by kind.
    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .array: return "an array"
        case .object: return "an object"
        case .string(let text): return JSONValue.string(Parser.shorten(text)).jsonText
        default: return value.jsonText
        }
    }
}
