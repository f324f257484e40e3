/// A JSON text that could not be parsed: what was wrong and at which byte offset.
public struct JSONError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Byte offset into the input where the problem was found.
    public var offset: Int
    /// What was wrong, e.g. `expected ',' or '}' after an object member`.
    public var message: String

    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }

    public var description: String { "invalid JSON at byte \(offset): \(message)" }
}
