/// Why a message store operation failed: a code to switch on and a message for people.
///
/// The messages are safe to show to users. Wrong expected versions use Message DB's exact
/// text: `Wrong expected version: 3 (Stream: account-1, Stream Version: 2)`.
public struct MessageStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case wrongExpectedVersion, duplicateMessageID, invalidStreamName, invalidMessage, invalidData
            case invalidMetadata, invalidArgument, conditionNotAllowed, connectionFailed, unavailable, storage, leaseLost
            case nodeIDInUse
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The stream's version was not the expected one; nothing was written.
        public static let wrongExpectedVersion = Code(.wrongExpectedVersion)
        /// A message with the same id is already in the store; nothing was written.
        public static let duplicateMessageID = Code(.duplicateMessageID)
        /// A stream or category name is malformed.
        public static let invalidStreamName = Code(.invalidStreamName)
        /// A message's type or shape is invalid.
        public static let invalidMessage = Code(.invalidMessage)
        /// A message's data is not a JSON object.
        public static let invalidData = Code(.invalidData)
        /// A message's metadata is not a JSON object.
        public static let invalidMetadata = Code(.invalidMetadata)
        /// A read argument (position, batch size, consumer group) is out of range.
        public static let invalidArgument = Code(.invalidArgument)
        /// A SQL `condition` was given but the store does not allow conditions.
        public static let conditionNotAllowed = Code(.conditionNotAllowed)
        /// The database could not be reached.
        public static let connectionFailed = Code(.connectionFailed)
        /// The store is shut down or not running.
        public static let unavailable = Code(.unavailable)
        /// The database reported an error.
        public static let storage = Code(.storage)
        /// This node no longer holds the partition it wrote for; nothing was written.
        public static let leaseLost = Code(.leaseLost)
        /// Another running node has this node's id: this node may not take part in the
        /// cluster (two nodes with one id would both own every partition they claim).
        public static let nodeIDInUse = Code(.nodeIDInUse)

        public var description: String { base.rawValue }
    }

    /// What kind of failure this is.
    public var code: Code
    /// A message for people, naming the problem and where it is.
    public var message: String
    /// For `wrongExpectedVersion`: the stream's actual version (-1 when it has no messages).
    public var actualVersion: Int64?

    public init(_ code: Code, _ message: String, actualVersion: Int64? = nil) {
        self.code = code
        self.message = message
        self.actualVersion = actualVersion
    }

    /// Message DB's wrong-expected-version error.
    public static func wrongExpectedVersion(expected: Int64, stream: StreamName, actual: Int64?) -> MessageStoreError {
        let actualText = actual.map(String.init) ?? "-1"
        return MessageStoreError(
            .wrongExpectedVersion,
            "Wrong expected version: \(expected) (Stream: \(stream.rawValue), Stream Version: \(actualText))",
            actualVersion: actual ?? -1
        )
    }

    public var description: String { message }
}
