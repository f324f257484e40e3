extension Schema {
    /// What breaks when this schema replaces `previous` for a store that holds events of
    /// the types in `storedEvents`: one line per problem, empty when the change is safe.
    ///
    /// The rules, for each event type found in the store (other types may change freely):
    ///
    /// - it must still be defined;
    /// - a required field may not be removed (optional fields may);
    /// - a new field must be optional: stored events do not have it;
    /// - a field's type may only widen: `T` → `T?`, `Int` → `Long`, `Int` → `Double`,
    ///   `Float` → `Double`, `[T]` → `[U]` when `T` → `U` is allowed; a custom type keeps its
    ///   name and its fields follow these same rules.
    ///
    /// Commands are not stored as events, so command changes are never a problem here.
    public func compatibilityProblems(replacing previous: Schema, storedEvents: Set<String>) -> [String] {
        var checker = CompatibilityChecker(old: previous, new: self)
        for type in storedEvents.sorted() {
            guard let definition = event(named: type) else {
                checker.problems.append("event \(type) is in the store but the new schema does not define it")
                continue
            }
            guard let old = previous.event(named: type) else { continue }
            checker.compare(old.fields, definition.fields, path: type)
        }
        return checker.problems
    }
}

private struct CompatibilityChecker {
    let old: Schema
    let new: Schema
    var problems: [String] = []
    /// Custom types already compared, so that recursive types end.
    var comparedTypes: Set<String> = []

    init(old: Schema, new: Schema) {
        self.old = old
        self.new = new
    }

    mutating func compare(_ oldFields: [Field], _ newFields: [Field], path: String) {
        for field in oldFields {
            let fieldPath = path + "." + field.name
            guard let replacement = newFields.first(where: { $0.name == field.name }) else {
                if !field.type.isOptional {
                    problems.append("\(fieldPath) (\(field.type)) is required and was removed; stored events have it")
                }
                continue
            }
            compare(field.type, replacement.type, path: fieldPath)
        }
        for field in newFields where !field.type.isOptional && !oldFields.contains(where: { $0.name == field.name }) {
            problems.append("\(path).\(field.name) (\(field.type)) is new and required; stored events do not have it (make it optional)")
        }
    }

    mutating func compare(_ oldType: TypeReference, _ newType: TypeReference, path: String) {
        switch (oldType, newType) {
        case (.optional(let old), .optional(let new)): compare(old, new, path: path)
        case (.optional, _): problems.append("\(path) changed from \(oldType) to \(newType); stored values may be null")
        case (_, .optional(let new)): compare(oldType, new, path: path)
        case (.array(let old), .array(let new)): compare(old, new, path: path + "[]")
        case (.custom(let old), .custom(let new)) where old == new: compareCustom(old, path: path)
        default:
            if !Self.widens(oldType, to: newType) {
                problems.append("\(path) changed from \(oldType) to \(newType); stored values may not fit")
            }
        }
    }

    private mutating func compareCustom(_ name: String, path: String) {
        guard comparedTypes.insert(name).inserted else { return }
        guard let newDefinition = new.types.first(where: { $0.name == name }) else {
            problems.append("\(path): type \(name) is no longer defined")
            return
        }
        guard let oldDefinition = old.types.first(where: { $0.name == name }) else { return }
        compare(oldDefinition.fields, newDefinition.fields, path: path)
    }

    /// Whether every JSON value of the scalar or type `old` is one of `new`.
    static func widens(_ old: TypeReference, to new: TypeReference) -> Bool {
        switch (old, new) {
        case (.scalar(.int), .scalar(.long)), (.scalar(.int), .scalar(.double)), (.scalar(.float), .scalar(.double)):
            return true
        default: return old == new
        }
    }
}
