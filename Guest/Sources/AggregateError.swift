/// Why a command produced no events, or why an event could not be applied.
///
/// Handlers throw the first two kinds; the SDK throws the others when a payload cannot be
/// read or a message is unknown.
///
/// ```swift
/// guard isOpen else { throw .fatal("account is not open") }
/// if ctx.processed(lastPosition) { throw .ignore }
/// ```
public struct AggregateError: Error {
    /// The case of the contract's `error` variant; the raw value is its tag.
    public enum Kind: UInt8 {
        /// A domain rejection (`command(string)`): nothing is written.
        case command = 0
        /// An idempotent no-op (`ignore(option<string>)`).
        case ignore = 1
        /// The command payload could not be read.
        case deserializeCommand = 2
        /// An event payload could not be read.
        case deserializeEvent = 3
        /// No handler for this command.
        case unknownCommand = 4
        /// No `apply` for this event type.
        case unknownEvent = 5
    }

    /// Which case of the contract's error this is.
    public var kind: Kind
    /// The message or reason, when the case carries one.
    public var message: String?

    /// Creates an error of any kind.
    public init(kind: Kind, message: String? = nil) {
        self.kind = kind
        self.message = message
    }

    /// The aggregate rejects the command (a domain rule); the message is shown to the caller.
    public static func fatal(_ message: String) -> AggregateError {
        AggregateError(kind: .command, message: message)
    }

    /// The command is a no-op for this entity (for example a repeated delivery).
    public static var ignore: AggregateError { AggregateError(kind: .ignore) }

    /// The command is a no-op for this entity, for the given reason.
    public static func ignore(_ reason: String) -> AggregateError {
        AggregateError(kind: .ignore, message: reason)
    }

    /// The command payload could not be read.
    public static func deserializeCommand(_ message: String) -> AggregateError {
        AggregateError(kind: .deserializeCommand, message: message)
    }

    /// An event payload could not be read.
    public static func deserializeEvent(_ message: String) -> AggregateError {
        AggregateError(kind: .deserializeEvent, message: message)
    }

    /// The module has no handler for the command.
    public static var unknownCommand: AggregateError { AggregateError(kind: .unknownCommand) }

    /// The module does not know the event type.
    public static var unknownEvent: AggregateError { AggregateError(kind: .unknownEvent) }
}
