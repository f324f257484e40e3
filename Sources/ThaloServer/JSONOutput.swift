import JSON
import MessageStore
import ThaloRuntime

/// Builds JSON response bodies as text, splicing stored payloads in without re-parsing them
/// (message data and metadata are already JSON object text).
struct JSONOutput {
    private(set) var text = ""

    init() {
        text.reserveCapacity(256)
    }

    mutating func raw(_ json: String) { text += json }
    mutating func string(_ value: String) { JSONValue.writeString(value, to: &text) }
    mutating func value(_ value: JSONValue) { text += value.jsonText }
    mutating func integer(_ value: Int64) { text += String(value) }
    mutating func bool(_ value: Bool) { text += value ? "true" : "false" }

    /// `{"key":…,"key":…}` from a closure that writes members with ``member(_:_:)``.
    mutating func object(_ body: (inout ObjectWriter) -> Void) {
        var writer = ObjectWriter(output: self)
        text = ""
        writer.output.text += "{"
        body(&writer)
        writer.output.text += "}"
        self = writer.output
    }

    /// `[…]` of `elements`, each written by `body`.
    mutating func array<S: Sequence>(_ elements: S, _ body: (inout JSONOutput, S.Element) -> Void) {
        text += "["
        var first = true
        for element in elements {
            if !first { text += "," }
            first = false
            body(&self, element)
        }
        text += "]"
    }

    struct ObjectWriter {
        var output: JSONOutput
        private var first = true

        init(output: JSONOutput) {
            self.output = output
        }

        mutating func member(_ key: String, _ write: (inout JSONOutput) -> Void) {
            if !first { output.text += "," }
            first = false
            output.string(key)
            output.text += ":"
            write(&output)
        }

        mutating func string(_ key: String, _ value: String?) {
            member(key) { output in
                if let value { output.string(value) } else { output.raw("null") }
            }
        }

        mutating func integer(_ key: String, _ value: Int64) { member(key) { $0.integer(value) } }
        mutating func raw(_ key: String, _ json: String?) { member(key) { $0.raw(json ?? "null") } }
        mutating func value(_ key: String, _ value: JSONValue?) { member(key) { $0.raw(value?.jsonText ?? "null") } }
        mutating func bool(_ key: String, _ value: Bool) { member(key) { $0.bool(value) } }
    }
}

extension JSONOutput {
    /// A stored message as the API shows it.
    mutating func message(_ message: Message) {
        object { object in
            object.string("id", message.id.lowercasedText)
            object.string("streamName", message.streamName.rawValue)
            object.string("type", message.type)
            object.integer("position", message.position)
            object.integer("globalPosition", message.globalPosition)
            object.raw("data", message.data)
            object.raw("metadata", message.metadata)
            object.string("time", message.time.iso8601)
        }
    }

    /// An event written by a command, as the API shows it.
    mutating func event(_ event: RecordedEvent) {
        object { object in
            object.string("id", event.id.lowercasedText)
            object.string("streamName", event.streamName.rawValue)
            object.string("type", event.type)
            object.integer("position", event.position)
            object.integer("globalPosition", event.globalPosition)
            object.raw("data", event.data)
            object.raw("metadata", event.metadata)
            object.string("time", event.time.iso8601)
        }
    }

    /// `{"messages":[…]}`.
    static func messages(_ messages: [Message]) -> String {
        var output = JSONOutput()
        output.object { object in
            object.member("messages") { $0.array(messages) { $0.message($1) } }
        }
        return output.text
    }
}
