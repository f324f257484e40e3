/// Where the messages of one write were recorded.
public struct WriteResult: Sendable, Hashable {
    /// Where one message was recorded.
    public struct Recorded: Sendable, Hashable {
        public var position: Int64
        public var globalPosition: Int64
        public var time: Timestamp

        public init(position: Int64, globalPosition: Int64, time: Timestamp) {
            self.position = position
            self.globalPosition = globalPosition
            self.time = time
        }
    }

    /// One entry per message, in the order written.
    public var recorded: [Recorded]

    public init(recorded: [Recorded]) {
        self.recorded = recorded
    }

    /// The stream position of the last message written: the stream's new version.
    public var lastPosition: Int64 { recorded.last?.position ?? -1 }
}
