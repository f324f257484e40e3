/// A to-do list: todos are added with an id that must be new, and removed by id.
struct Todos: TodosAggregate {
    struct Todo {
        var id: String
        var description: String
    }

    /// The open todos, in the order they were added.
    var todos: [Todo] = []

    init(id: String) {}

    /// `apply` reads no context: commands of a busy list may run as a batch (contract 1.2).
    static var appliesUnwrittenEvents: Bool { true }

    func handleAdd(_ ctx: Context, id: String, description: String) throws(AggregateError) -> Added {
        guard !id.isEmpty else { throw .fatal("a todo needs an id") }
        guard index(of: id) == nil else { throw .fatal("a todo with this id already exists") }
        return Added(id: id, description: description)
    }

    func handleRemove(_ ctx: Context, id: String) throws(AggregateError) -> Removed {
        guard index(of: id) != nil else { throw .fatal("no todo with this id") }
        return Removed(id: id)
    }

    mutating func apply(_ event: Added, _ ctx: Context) {
        todos.append(Todo(id: event.id, description: event.description))
    }

    mutating func apply(_ event: Removed, _ ctx: Context) {
        if let index = index(of: event.id) { todos.remove(at: index) }
    }

    /// Ids are compared byte by byte (`utf8Equal`): `==` on strings applies Unicode
    /// normalisation, which costs thousands of wasm instructions and ~50 KB of tables.
    private func index(of id: String) -> Int? {
        todos.firstIndex { utf8Equal($0.id, id) }
    }

    var state: JSONValue? {
        ["todos": .array(todos.map { ["id": .string($0.id), "description": .string($0.description)] })]
    }
}
