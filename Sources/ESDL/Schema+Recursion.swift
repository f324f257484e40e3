extension Schema {
    /// The custom types that can contain a value of their own type without going through
    /// an array (`type Node { next: Node? }`, or `A { b: B? }` with `B { a: A }`).
    ///
    /// ESDL allows such types because `null` ends them in JSON, but a generator of value
    /// types (a Swift `struct`) must box them (`indirect`, a class, or an array), since a
    /// struct cannot contain itself. Cycles through arrays need nothing: arrays already
    /// store their elements out of line. Cycles made only of required fields never get
    /// here, as the validator rejects them.
    public var directlyRecursiveTypes: Set<String> {
        let names = types.map(\.name)
        let indexOf = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        let edges: [[Int]] = types.map { type in
            type.fields.compactMap { field in
                guard case .custom(let target) = field.type.nonOptional else { return nil }
                return indexOf[target]
            }
        }
        var result = Set<String>()
        for component in Validator.stronglyConnectedComponents(count: types.count, edges: edges) {
            if component.count > 1 || edges[component[0]].contains(component[0]) {
                for member in component { result.insert(names[member]) }
            }
        }
        return result
    }
}
