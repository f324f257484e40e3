import ESDL
import JSON

extension Schema {
    /// What is wrong with the events a module returned for `command`: payloads that are not
    /// JSON or do not match their event's fields, undeclared events, or events the command
    /// may not emit. The server refuses such output (and writes nothing); `thalo test`
    /// reports it the same way.
    func problems(returnedBy command: String, events: [GuestEvent]) -> [PayloadError] {
        var problems: [PayloadError] = []
        for (index, event) in events.enumerated() {
            do {
                let payload = try JSONValue(parsing: event.payload)
                // The problems are collected (which allocates) only for a payload that fails.
                if isValidEvent(event.type, payload: payload) { continue }
                for problem in validateEvent(event.type, payload: payload) {
                    var problem = problem
                    problem.path = "events[\(index)]" + (problem.path.isEmpty ? "" : "." + problem.path)
                    problems.append(problem)
                }
            } catch {
                problems.append(PayloadError(.typeMismatch, path: "events[\(index)]", message: "payload is not JSON: \(error)"))
            }
        }
        if problems.isEmpty {
            // Every payload matches its event: what remains is whether the command may
            // return these types, in this order.
            problems = validateReturnedEvents(command: command, events: events.map(\.type))
        }
        return problems
    }
}
