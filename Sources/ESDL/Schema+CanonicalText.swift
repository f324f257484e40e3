extension Schema {
    /// The schema as ESDL source in the one normalised layout: the version, a blank line,
    /// the aggregate, then each event and each custom type in their order, separated by
    /// blank lines; two-space indentation; parameters separated by `, `; one field per
    /// line; no comments; a final newline.
    ///
    /// Parsing the canonical text gives back an equal schema, so it is the form to store,
    /// diff or show.
    ///
    /// ```
    /// version = "0.1.0"
    ///
    /// aggregate BankAccount {
    ///   open_account(initial_balance: Long) -> OpenedAccount
    /// }
    ///
    /// event OpenedAccount {
    ///   initial_balance: Long
    /// }
    /// ```
    public var canonicalText: String {
        var text = "version = \"\(version)\"\n\n"
        text += "aggregate \(aggregate.name) {"
        if aggregate.commands.isEmpty {
            text += "}\n"
        } else {
            text += "\n"
            for command in aggregate.commands {
                text += "  \(command.name)("
                text += command.parameters.map { "\($0.name): \($0.type)" }.joined(separator: ", ")
                text += ") -> \(command.returns.canonicalText)\n"
            }
            text += "}\n"
        }
        for event in events {
            text += "\n"
            Schema.appendRecord(keyword: "event", name: event.name, fields: event.fields, to: &text)
        }
        for type in types {
            text += "\n"
            Schema.appendRecord(keyword: "type", name: type.name, fields: type.fields, to: &text)
        }
        return text
    }

    private static func appendRecord(keyword: String, name: String, fields: [Field], to text: inout String) {
        text += "\(keyword) \(name) {"
        if fields.isEmpty {
            text += "}\n"
            return
        }
        text += "\n"
        for field in fields {
            text += "  \(field.name): \(field.type)\n"
        }
        text += "}\n"
    }
}

extension CommandReturn: CustomStringConvertible {
    /// The return as written after `->`: `E`, `E?`, or a tuple such as `(A | B?)` or
    /// `(A | B)?`.
    public var canonicalText: String {
        let names = elements.map { $0.event + ($0.isOptional ? "?" : "") }
        guard isTuple || names.count != 1 else { return names[0] }
        return "(" + names.joined(separator: " | ") + ")" + (tupleIsOptional ? "?" : "")
    }

    /// The return as written after `->`, see ``canonicalText``.
    public var description: String { canonicalText }
}
