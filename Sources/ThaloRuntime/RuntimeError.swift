import ESDL
import MessageStore

/// Why the runtime could not do what was asked: a code to switch on, a message for people,
/// and context fields (aggregate, module version, export, field paths) where they apply.
///
/// Messages are safe to show to API clients. The HTTP status of each code is decided by
/// the server module, not here.
public struct RuntimeError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The command payload does not match the ESDL parameters (see ``RuntimeError/payloadErrors``).
        public static let invalidPayload = Code("invalidPayload")
        /// No module is published for the aggregate.
        public static let unknownAggregate = Code("unknownAggregate")
        /// The aggregate has no such command.
        public static let unknownCommand = Code("unknownCommand")
        /// The entity id is not usable in a stream name.
        public static let invalidEntityID = Code("invalidEntityID")
        /// The aggregate rejected the command (a domain rule): nothing was written.
        public static let rejected = Code("rejected")
        /// Other writers kept changing the entity; the command was retried and gave up.
        public static let conflict = Code("conflict")
        /// The module trapped, ran out of its budget, or returned something malformed.
        public static let moduleFailure = Code("moduleFailure")
        /// The module returned events that do not match its ESDL schema.
        public static let invalidEvents = Code("invalidEvents")
        /// A module could not be published (invalid ESDL, version not newer, bad wasm…).
        public static let invalidModule = Code("invalidModule")
        /// The aggregate's category already belongs to another aggregate (`BankAccount` and
        /// `bankAccount` would share `bankAccount-…` streams): nothing was published.
        public static let categoryTaken = Code("categoryTaken")
        /// The version to publish is not newer than the latest one, and is not the latest sent
        /// again with the same schema and module (a retry).
        public static let versionExists = Code("versionExists")
        /// A new module version's schema cannot read events in the store (deploy check).
        public static let incompatibleSchema = Code("incompatibleSchema")
        /// A new module version could not apply the stored events of a stream (deploy check).
        public static let replayFailed = Code("replayFailed")
        /// The message store failed (see ``RuntimeError/storeError``).
        public static let store = Code("store")
        /// A command id (idempotency key) was reused for a different aggregate, entity,
        /// command or payload: nothing was written.
        public static let idempotencyKeyReused = Code("idempotencyKeyReused")
        /// A valid payload too large for the module's memory: nothing ran.
        public static let payloadTooLarge = Code("payloadTooLarge")
        /// A reply stream name that is malformed or inside an aggregate's event category.
        public static let invalidReplyStream = Code("invalidReplyStream")
        /// The runtime is shutting down.
        public static let unavailable = Code("unavailable")

        public var description: String { name }
    }

    public var code: Code
    public var message: String
    /// The aggregate concerned, when there is one.
    public var aggregate: String?
    /// The module version concerned, when there is one.
    public var moduleVersion: String?
    /// For `invalidPayload` and `invalidEvents`: one entry per problem, with its field path.
    public var payloadErrors: [PayloadError]
    /// For `store`: the underlying store error.
    public var storeError: MessageStoreError?

    public init(
        _ code: Code, _ message: String, aggregate: String? = nil, moduleVersion: String? = nil,
        payloadErrors: [PayloadError] = [], storeError: MessageStoreError? = nil
    ) {
        self.code = code
        self.message = message
        self.aggregate = aggregate
        self.moduleVersion = moduleVersion
        self.payloadErrors = payloadErrors
        self.storeError = storeError
    }

    public var description: String { message }

    /// Wraps a store error, keeping it for callers that need its code.
    static func store(_ error: any Error, while doing: String) -> RuntimeError {
        if let error = error as? RuntimeError { return error }
        if let storeError = error as? MessageStoreError {
            return RuntimeError(.store, "\(storeError.message) (while \(doing))", storeError: storeError)
        }
        return RuntimeError(.store, "\(error) (while \(doing))")
    }
}

/// Whether an error goes away by itself: the store is unreachable, busy or failing (the
/// command consumer and projections retry these with a backoff, and give up on the rest).
func isTransientFailure(_ error: any Error) -> Bool {
    switch error {
    case let error as RuntimeError:
        if error.code == .unavailable { return true }
        if let storeError = error.storeError { return isTransientFailure(storeError) }
        return error.code == .store && error.storeError == nil
    case let error as MessageStoreError:
        return error.code == .connectionFailed || error.code == .unavailable || error.code == .storage
    case is CancellationError:
        return true
    default:
        return false
    }
}
