extension JSONValue {
    /// Compact JSON text with object keys sorted, so equal values give equal text.
    public var jsonText: String {
        var output = ""
        write(to: &output, pretty: false, indent: 0)
        return output
    }

    /// The compact text of an object with these members (keys unique), as ``jsonText``
    /// writes it, without building the dictionary first.
    public static func objectText(_ members: [(key: String, value: JSONValue)]) -> String {
        var output = ""
        writeObject(members.sorted { $0.key < $1.key }, to: &output, pretty: false, indent: 0)
        return output
    }

    /// Indented JSON text with object keys sorted, for people to read.
    public var prettyJSONText: String {
        var output = ""
        write(to: &output, pretty: true, indent: 0)
        return output
    }

    private func write(to output: inout String, pretty: Bool, indent: Int) {
        switch self {
        case .null: output += "null"
        case .bool(let value): output += value ? "true" : "false"
        case .integer(let value): output += String(value)
        case .double(let value): output += JSONValue.format(value)
        case .string(let value): JSONValue.writeString(value, to: &output)
        case .array(let elements):
            if elements.isEmpty {
                output += "[]"
                return
            }
            output += "["
            for (offset, element) in elements.enumerated() {
                if offset > 0 { output += "," }
                if pretty { JSONValue.newline(&output, indent + 1) }
                element.write(to: &output, pretty: pretty, indent: indent + 1)
            }
            if pretty { JSONValue.newline(&output, indent) }
            output += "]"
        case .object(let members):
            JSONValue.writeObject(members.sorted { $0.key < $1.key }, to: &output, pretty: pretty, indent: indent)
        }
    }

    /// `{…}` of members already in key order.
    private static func writeObject(
        _ members: [(key: String, value: JSONValue)], to output: inout String, pretty: Bool, indent: Int
    ) {
        if members.isEmpty {
            output += "{}"
            return
        }
        output += "{"
        for (offset, member) in members.enumerated() {
            if offset > 0 { output += "," }
            if pretty { newline(&output, indent + 1) }
            writeString(member.key, to: &output)
            output += pretty ? ": " : ":"
            member.value.write(to: &output, pretty: pretty, indent: indent + 1)
        }
        if pretty { newline(&output, indent) }
        output += "}"
    }

    private static func newline(_ output: inout String, _ indent: Int) {
        output += "\n"
        output += String(repeating: "  ", count: indent)
    }

    /// A JSON number for a double; non-finite values have no JSON form and become `null`.
    static func format(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        if value.rounded() == value && abs(value) < 1e15 {
            return String(Int64(value)) + ".0"
        }
        return "\(value)"
    }

    /// Appends `text` as a quoted JSON string, escaping what RFC 8259 requires.
    public static func writeString(_ text: String, to output: inout String) {
        output += "\""
        // Most strings (ids, names, stream names) need no escape: append them whole.
        let plain = text.utf8.withContiguousStorageIfAvailable { bytes in
            !bytes.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }
        }
        if plain == true {
            output += text
            output += "\""
            return
        }
        var pendingStart = text.utf8.startIndex
        let utf8 = text.utf8
        var index = utf8.startIndex
        while index != utf8.endIndex {
            let byte = utf8[index]
            let escape: String?
            switch byte {
            case 0x22: escape = "\\\""
            case 0x5C: escape = "\\\\"
            case 0x0A: escape = "\\n"
            case 0x0D: escape = "\\r"
            case 0x09: escape = "\\t"
            case 0x08: escape = "\\b"
            case 0x0C: escape = "\\f"
            case 0..<0x20:
                let hex = String(byte, radix: 16)
                escape = "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: escape = nil
            }
            if let escape {
                output += text[pendingStart..<index]
                output += escape
                pendingStart = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        output += text[pendingStart..<utf8.endIndex]
        output += "\""
    }
}
