/// Checks a ``SyntaxFile`` for everything the grammar cannot: one version and one
/// aggregate, defined and unique names, valid identifiers, types that exist and are not
/// infinitely recursive, commands that return defined events. Collects every problem,
/// then builds the ``Schema`` when there is no error.
///
/// Decisions worth knowing:
/// - Events and custom types share one namespace, and neither may be named like a scalar
///   or like the aggregate: the names become type names in generated code. For the same
///   reason the aggregate, events and types may not have a name reserved for generated
///   Swift code (``Schema/reservation(of:as:aggregate:)``): a Swift keyword, a name the
///   guest SDK declares or uses, or one derived from the aggregate (`BankAccountCommand`).
/// - An event cannot be the type of a field or parameter: events are facts in a stream,
///   not values; define a `type` to share a shape.
/// - A custom type may refer to itself only through an optional or an array
///   (`type Node { next: Node? }`, `type Tree { children: [Tree] }`), because then a
///   finite JSON value exists (`null`, `[]`). A cycle made only of required fields is an
///   error: no JSON value could ever be complete. See ``Schema/directlyRecursiveTypes``
///   for what code generators must box.
struct Validator {
    private let syntax: SyntaxFile
    private let file: String
    private(set) var diagnostics: [Diagnostic] = []
    private var hasSyntaxErrors = false

    private var eventsByName: [String: NameSyntax] = [:]
    private var typesByName: [String: NameSyntax] = [:]
    private var typeRecords: [String: RecordSyntax] = [:]
    /// Scalars, then defined types in source order: what an unknown type may be a typo of.
    private var typeCandidates: [String] = []

    private static let scalarList = "String, Int, Long, Float, Double, Bool, Bytes"

    init(syntax: SyntaxFile, file: String) {
        self.syntax = syntax
        self.file = file
    }

    /// Validates a syntax tree; returns the schema when no error was found.
    static func validate(_ syntax: SyntaxFile, file: String, hasSyntaxErrors: Bool) -> (
        schema: Schema?, diagnostics: [Diagnostic]
    ) {
        var validator = Validator(syntax: syntax, file: file)
        validator.hasSyntaxErrors = hasSyntaxErrors
        let version = validator.checkVersion()
        validator.checkAggregateCount()
        validator.collectDefinitions()
        validator.checkNames()
        validator.checkCommands()
        validator.checkRecords()
        validator.checkRecursion()
        validator.checkEmptyAggregate()
        let schema = validator.diagnostics.contains { $0.severity == .error } ? nil : validator.buildSchema(version)
        return (schema, validator.diagnostics)
    }

    private var startOfFile: SourceLocation {
        SourceLocation(file: file, line: 1, column: 1, length: 0)
    }

    private mutating func error(
        _ code: Diagnostic.Code, _ message: String, at location: SourceLocation, notes: [Diagnostic.Note] = []
    ) {
        diagnostics.append(.error(code, message, at: location, notes: notes))
    }

    // MARK: - Version and aggregate

    private mutating func checkVersion() -> SemanticVersion? {
        guard let first = syntax.versions.first else {
            error(
                .missingVersion,
                "missing version; expected a line such as version = \"0.1.0\" at the top of the file",
                at: startOfFile)
            return nil
        }
        for repeated in syntax.versions.dropFirst() {
            error(
                .repeatedVersion, "version is set more than once; expected a single version = \"…\" line",
                at: repeated.keyword, notes: [.init("version first set here", at: first.keyword)])
        }
        guard let value = first.value else { return nil }
        switch SemanticVersion.parse(value.text) {
        case .success(let version):
            return version
        case .failure(let problem):
            var location = value.location
            location.length = max(location.length, 1)
            error(
                .invalidVersion,
                "invalid version '\(Parser.shorten(value.text))': \(problem.reason); expected a semantic version MAJOR.MINOR.PATCH such as \"0.1.0\"",
                at: location)
            return nil
        }
    }

    private mutating func checkAggregateCount() {
        guard let first = syntax.aggregates.first else {
            error(
                .missingAggregate,
                "missing aggregate; expected one definition such as 'aggregate BankAccount { … }'",
                at: startOfFile)
            return
        }
        let firstName = first.name.map { "'\($0.text)'" } ?? "one"
        for extra in syntax.aggregates.dropFirst() {
            error(
                .repeatedAggregate,
                "a file defines exactly one aggregate, but this is a second; expected only \(firstName)",
                at: extra.name?.location ?? extra.keyword,
                notes: [.init("first aggregate defined here", at: first.name?.location ?? first.keyword)])
        }
    }

    // MARK: - Names

    private mutating func collectDefinitions() {
        for event in syntax.events {
            guard let name = event.name else { continue }
            if let first = eventsByName[name.text] {
                error(
                    .duplicateEvent, "event '\(name.text)' is defined more than once", at: name.location,
                    notes: [.init("first defined here", at: first.location)])
            } else {
                eventsByName[name.text] = name
            }
        }
        for type in syntax.types {
            guard let name = type.name else { continue }
            if let first = typesByName[name.text] {
                error(
                    .duplicateType, "type '\(name.text)' is defined more than once", at: name.location,
                    notes: [.init("first defined here", at: first.location)])
            } else {
                typesByName[name.text] = name
                typeRecords[name.text] = type
            }
        }
        typeCandidates =
            Scalar.allCases.map(\.rawValue)
            + syntax.types.compactMap { type in
                guard let name = type.name, typeRecords[name.text]?.name == name else { return nil }
                return name.text
            }
        // Report a clash at whichever of the two definitions comes second.
        for (text, typeName) in typesByName {
            guard let eventName = eventsByName[text] else { continue }
            let (later, earlier) = typeName.location < eventName.location ? (eventName, typeName) : (typeName, eventName)
            let laterKind = later == typeName ? "type" : "event"
            let earlierKind = later == typeName ? "event" : "type"
            error(
                .nameClash,
                "\(laterKind) '\(text)' has the same name as \(earlierKind) '\(text)'; events and types need distinct names",
                at: later.location, notes: [.init("\(earlierKind) '\(text)' defined here", at: earlier.location)])
        }
        let definitions: [(kind: String, name: NameSyntax)] =
            syntax.aggregates.compactMap { aggregate in aggregate.name.map { ("aggregate", $0) } }
            + syntax.events.compactMap { event in event.name.map { ("event", $0) } }
            + syntax.types.compactMap { type in type.name.map { ("type", $0) } }
        for definition in definitions where Scalar(rawValue: definition.name.text) != nil {
            error(
                .nameClash,
                "'\(definition.name.text)' is a built-in type; expected another name for the \(definition.kind)",
                at: definition.name.location)
        }
        checkReservedNames(definitions)
        for aggregate in syntax.aggregates {
            guard let name = aggregate.name else { continue }
            if let event = eventsByName[name.text] {
                error(
                    .nameClash,
                    "aggregate '\(name.text)' has the same name as event '\(name.text)'; expected distinct names",
                    at: name.location, notes: [.init("event '\(name.text)' defined here", at: event.location)])
            }
            if let type = typesByName[name.text] {
                error(
                    .nameClash,
                    "aggregate '\(name.text)' has the same name as type '\(name.text)'; expected distinct names",
                    at: name.location, notes: [.init("type '\(name.text)' defined here", at: type.location)])
            }
        }
    }

    /// Refuses names that would break the generated Swift code (see
    /// ``Schema/reservation(of:as:aggregate:)``), and an aggregate whose derived names
    /// would (`Aggregate` makes `AggregateModule`, a type of the guest SDK).
    private mutating func checkReservedNames(_ definitions: [(kind: String, name: NameSyntax)]) {
        let aggregateName = syntax.aggregates.first?.name?.text
        for (kindText, name) in definitions where Scalar(rawValue: name.text) == nil {
            guard let kind = Schema.DefinitionKind(rawValue: kindText),
                let reason = Schema.reservation(of: name.text, as: kind, aggregate: aggregateName)
            else { continue }
            error(
                .reservedName,
                "'\(name.text)' is reserved for generated Swift code: \(reason); expected another name for the \(kindText)",
                at: name.location)
        }
        for aggregate in syntax.aggregates {
            guard let name = aggregate.name, Schema.reservation(of: name.text, as: .aggregate, aggregate: nil) == nil
            else { continue }
            for derived in Schema.derivedNames(ofAggregate: name.text) {
                guard let entry = ReservedNames.table[derived] else { continue }
                error(
                    .reservedName,
                    "'\(name.text)' is reserved for generated Swift code: the generated '\(derived)' would clash, as \(entry.origin.reason(derived)); expected another name for the aggregate",
                    at: name.location)
            }
        }
    }

    private mutating func checkNames() {
        for aggregate in syntax.aggregates {
            if let name = aggregate.name {
                checkIdentifier(name, kind: "aggregate")
                checkAggregateNameLength(name)
            }
            for command in aggregate.commands {
                checkIdentifier(command.name, kind: "command")
                for parameter in command.parameters { checkIdentifier(parameter.name, kind: "parameter") }
            }
        }
        for event in syntax.events {
            if let name = event.name { checkIdentifier(name, kind: "event") }
            for field in event.fields { checkIdentifier(field.name, kind: "field") }
        }
        for type in syntax.types {
            if let name = type.name { checkIdentifier(name, kind: "type") }
            for field in type.fields { checkIdentifier(field.name, kind: "field") }
        }
    }

    /// The aggregate's name starts every stream name of its entities, which Message DB
    /// indexes: a bounded name leaves room for ids (see `Schema.maximumAggregateNameLength`).
    private mutating func checkAggregateNameLength(_ name: NameSyntax) {
        guard name.text.utf8.count > Schema.maximumAggregateNameLength, Identifier.isValid(name.text) else { return }
        error(
            .invalidName,
            "the aggregate name '\(Parser.shorten(name.text))' is \(name.text.utf8.count) characters long; aggregate names have at most \(Schema.maximumAggregateNameLength)",
            at: name.location)
    }

    private mutating func checkIdentifier(_ name: NameSyntax, kind: String) {
        guard !Identifier.isValid(name.text) else { return }
        var notes: [Diagnostic.Note] = []
        if let repaired = Identifier.repaired(name.text) {
            notes.append(.init("did you mean '\(repaired)'?", at: name.location))
        }
        error(
            .invalidName,
            "'\(Parser.shorten(name.text))' is not a valid \(kind) name: \(Identifier.problem(with: name.text)); expected a letter or '_' followed by letters, digits or '_'",
            at: name.location, notes: notes)
    }

    // MARK: - Commands and records

    private mutating func checkCommands() {
        var unique = Set<String>()
        let knownEvents = syntax.events.compactMap { $0.name?.text }.filter { unique.insert($0).inserted }
        for aggregate in syntax.aggregates {
            var commands: [String: NameSyntax] = [:]
            for command in aggregate.commands {
                if let first = commands[command.name.text] {
                    error(
                        .duplicateCommand, "command '\(command.name.text)' is defined more than once",
                        at: command.name.location, notes: [.init("first defined here", at: first.location)])
                } else {
                    commands[command.name.text] = command.name
                }
                checkFields(command.parameters, role: "parameter", code: .duplicateParameter, owner: "command '\(command.name.text)'")
                if let returns = command.returns { checkReturn(returns, of: command.name.text, known: knownEvents) }
            }
        }
    }

    private mutating func checkReturn(_ returns: ReturnSyntax, of command: String, known: [String]) {
        var seen: [String: NameSyntax] = [:]
        for (name, _) in returns.events {
            if let first = seen[name.text] {
                error(
                    .duplicateReturn, "command '\(command)' lists event '\(name.text)' more than once",
                    at: name.location, notes: [.init("first listed here", at: first.location)])
                continue
            }
            seen[name.text] = name
            guard eventsByName[name.text] == nil else { continue }
            if typesByName[name.text] != nil {
                error(
                    .typeUsedAsEvent,
                    "command '\(command)' returns '\(name.text)', which is a type, not an event; expected an event defined with 'event'",
                    at: name.location)
                continue
            }
            let expected: String
            switch known.count {
            case 0: expected = "no events are defined in this file; expected an 'event \(name.text) { … }' definition"
            case 1: expected = "expected \(known[0]), the only event defined in this file"
            default: expected = "expected one of the events defined in this file: \(Validator.list(known))"
            }
            var notes: [Diagnostic.Note] = []
            if let suggestion = Suggestions.closest(to: name.text, among: known) {
                notes.append(.init("did you mean '\(suggestion)'?", at: name.location))
            }
            error(
                .unknownEvent, "unknown event '\(Parser.shorten(name.text))' returned by '\(command)'; \(expected)",
                at: name.location, notes: notes)
        }
    }

    private mutating func checkRecords() {
        for event in syntax.events {
            let owner = event.name.map { "event '\($0.text)'" } ?? "the event"
            checkFields(event.fields, role: "field", code: .duplicateField, owner: owner)
        }
        for type in syntax.types {
            let owner = type.name.map { "type '\($0.text)'" } ?? "the type"
            checkFields(type.fields, role: "field", code: .duplicateField, owner: owner)
        }
    }

    private mutating func checkFields(_ fields: [FieldSyntax], role: String, code: Diagnostic.Code, owner: String) {
        var seen: [String: NameSyntax] = [:]
        for field in fields {
            if let first = seen[field.name.text] {
                error(
                    code, "\(role) '\(field.name.text)' of \(owner) is defined more than once",
                    at: field.name.location, notes: [.init("first defined here", at: first.location)])
            } else {
                seen[field.name.text] = field.name
            }
            if let type = field.type { checkType(type) }
        }
    }

    private mutating func checkType(_ type: TypeSyntax) {
        guard case .custom(let name) = type.reference.base else { return }
        if typesByName[name] != nil { return }
        if eventsByName[name] != nil {
            error(
                .eventUsedAsType,
                "'\(name)' is an event and cannot be the type of a field; expected a scalar or a type defined with 'type'",
                at: type.base.location,
                notes: [.init("to share a shape, define 'type \(name)Details { … }' and use it in both", at: type.base.location)])
            return
        }
        var notes: [Diagnostic.Note] = []
        if let suggestion = Suggestions.closest(to: name, among: typeCandidates) {
            notes.append(.init("did you mean '\(suggestion)'?", at: type.base.location))
        }
        error(
            .unknownType,
            "unknown type '\(Parser.shorten(name))'; expected one of \(Validator.scalarList) or a type defined in this file",
            at: type.base.location, notes: notes)
    }

    /// Warns about an aggregate without commands, only when nothing else is wrong: a
    /// broken command also leaves the list empty, and the error says more.
    private mutating func checkEmptyAggregate() {
        guard !diagnostics.contains(where: { $0.severity == .error }), !hasSyntaxErrors,
            let aggregate = syntax.aggregates.first, aggregate.commands.isEmpty, let name = aggregate.name
        else { return }
        diagnostics.append(
            .warning(
                .emptyAggregate,
                "aggregate '\(name.text)' has no commands; expected at least one such as 'deposit_funds(amount: Int) -> DepositedFunds'",
                at: name.location))
    }

    // MARK: - Recursion

    /// Finds cycles of required custom-typed fields (strongly connected components of the
    /// "has a required field of type" graph) with an iterative Tarjan, so a long chain of
    /// types cannot overflow the stack.
    private mutating func checkRecursion() {
        let names = syntax.types.compactMap { $0.name?.text }.filter { typeRecords[$0] != nil }
        var order: [String] = []
        var seenNames = Set<String>()
        for name in names where seenNames.insert(name).inserted { order.append(name) }
        let indexOf = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        // edges[i]: (target, field) for each required field of a custom type.
        let edges: [[(target: Int, field: FieldSyntax)]] = order.map { name in
            typeRecords[name]!.fields.compactMap { field in
                guard let type = field.type, case .custom(let target) = type.reference,
                    let targetIndex = indexOf[target]
                else { return nil }
                return (targetIndex, field)
            }
        }
        for component in Validator.stronglyConnectedComponents(count: order.count, edges: edges.map { $0.map(\.target) }) {
            let members = Set(component)
            guard component.count > 1 || edges[component[0]].contains(where: { $0.target == component[0] }) else {
                continue
            }
            let start = component.min()!
            let path = Validator.cycle(from: start, within: members, edges: edges)
            var description = order[start]
            var notes: [Diagnostic.Note] = []
            var node = start
            for (target, field) in path {
                description += ".\(field.name.text) → \(order[target])"
                notes.append(
                    .init("'\(order[node]).\(field.name.text)' is a required \(order[target])", at: field.name.location))
                node = target
            }
            let location = typesByName[order[start]]!.location
            error(
                .recursiveType,
                "type '\(order[start])' contains itself through required fields (\(description)), so no value of it can be finite; expected one of these fields to be optional or an array",
                at: location, notes: notes)
        }
    }

    /// Tarjan's algorithm without recursion; returns the components in discovery order.
    static func stronglyConnectedComponents(count: Int, edges: [[Int]]) -> [[Int]] {
        var index = [Int](repeating: -1, count: count)
        var lowLink = [Int](repeating: 0, count: count)
        var onStack = [Bool](repeating: false, count: count)
        var stack: [Int] = []
        var components: [[Int]] = []
        var nextIndex = 0
        for root in 0..<count where index[root] == -1 {
            // Each frame is a node and the position of the next edge to follow.
            var frames: [(node: Int, edge: Int)] = [(root, 0)]
            index[root] = nextIndex
            lowLink[root] = nextIndex
            nextIndex += 1
            stack.append(root)
            onStack[root] = true
            while let frame = frames.last {
                let node = frame.node
                if frame.edge < edges[node].count {
                    frames[frames.count - 1].edge += 1
                    let target = edges[node][frame.edge]
                    if index[target] == -1 {
                        index[target] = nextIndex
                        lowLink[target] = nextIndex
                        nextIndex += 1
                        stack.append(target)
                        onStack[target] = true
                        frames.append((target, 0))
                    } else if onStack[target] {
                        lowLink[node] = min(lowLink[node], index[target])
                    }
                } else {
                    frames.removeLast()
                    if let parent = frames.last {
                        lowLink[parent.node] = min(lowLink[parent.node], lowLink[node])
                    }
                    if lowLink[node] == index[node] {
                        var component: [Int] = []
                        while let member = stack.popLast() {
                            onStack[member] = false
                            component.append(member)
                            if member == node { break }
                        }
                        components.append(component.sorted())
                    }
                }
            }
        }
        return components
    }

    /// A shortest cycle from `start` back to itself inside one component (breadth first).
    private static func cycle(
        from start: Int, within members: Set<Int>, edges: [[(target: Int, field: FieldSyntax)]]
    ) -> [(Int, FieldSyntax)] {
        var previous: [Int: (node: Int, field: FieldSyntax)] = [:]
        var queue = [start]
        var head = 0
        while head < queue.count {
            let node = queue[head]
            head += 1
            for (target, field) in edges[node] where members.contains(target) {
                if target == start {
                    var path: [(Int, FieldSyntax)] = [(start, field)]
                    var current = node
                    while current != start, let step = previous[current] {
                        path.append((current, step.field))
                        current = step.node
                    }
                    return path.reversed()
                }
                if previous[target] == nil {
                    previous[target] = (node, field)
                    queue.append(target)
                }
            }
        }
        return []
    }

    // MARK: - Building the schema

    private func buildSchema(_ version: SemanticVersion?) -> Schema? {
        guard let version, let aggregateSyntax = syntax.aggregates.first, let aggregateName = aggregateSyntax.name
        else { return nil }
        var commands: [Command] = []
        for command in aggregateSyntax.commands {
            guard let returns = command.returns, let parameters = Validator.fields(command.parameters) else {
                return nil
            }
            commands.append(
                Command(
                    name: command.name.text, parameters: parameters,
                    returns: CommandReturn(
                        elements: returns.events.map { CommandReturn.Element(event: $0.name.text, isOptional: $0.optional) },
                        isTuple: returns.isTuple, tupleIsOptional: returns.listIsOptional)))
        }
        var events: [EventDefinition] = []
        for event in syntax.events {
            guard let name = event.name, let fields = Validator.fields(event.fields) else { return nil }
            events.append(EventDefinition(name: name.text, fields: fields))
        }
        var types: [TypeDefinition] = []
        for type in syntax.types {
            guard let name = type.name, let fields = Validator.fields(type.fields) else { return nil }
            types.append(TypeDefinition(name: name.text, fields: fields))
        }
        return Schema(
            version: version, aggregate: Aggregate(name: aggregateName.text, commands: commands), events: events,
            types: types)
    }

    private static func fields(_ syntax: [FieldSyntax]) -> [Field]? {
        var fields: [Field] = []
        fields.reserveCapacity(syntax.count)
        for field in syntax {
            guard let type = field.type else { return nil }
            fields.append(Field(name: field.name.text, type: type.reference))
        }
        return fields
    }

    /// `A, B or C`.
    static func list(_ names: [String], conjunction: String = "or") -> String {
        switch names.count {
        case 0: return ""
        case 1: return names[0]
        default: return names.dropLast().joined(separator: ", ") + " \(conjunction) " + names[names.count - 1]
        }
    }
}
