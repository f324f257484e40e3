import Foundation
import JSON
import Logging
import ServiceLifecycle

/// Reads a category from a position, first catching up and then following live writes,
/// and hands each message to a handler in global order.
///
/// When it has a consumer name, the subscription records its position as a `Recorded`
/// message (`{"position": N}`, N the global position of the last handled message) in the
/// stream `{category}:position-{consumer}` (`{consumer}+{member}` in a consumer group),
/// every ``Configuration/positionUpdateInterval`` messages and when it stops, and resumes
/// after it on the next start. Delivery is at least once: after a crash, the messages
/// handled since the last recorded position are delivered again.
///
/// It is a `Service`: run it in a `ServiceGroup`, or call ``run()`` in a task and cancel
/// the task to stop it; either way it records its position before returning.
///
/// ```swift
/// let subscription = Subscription(store: store, configuration: .init(category: "account", consumer: "balances")) { message in
///     try await readModel.apply(message)
/// }
/// try await subscription.run()
/// ```
public final class Subscription<Store: MessageStore>: Service, Sendable {
    /// What to read and how often to record the position.
    public struct Configuration: Sendable {
        /// The category to read, e.g. `account` or `account:command`.
        public var category: String
        /// The consumer's name; without one, the position is not recorded.
        public var consumer: String?
        /// Read only this member's share of the category.
        public var consumerGroup: ConsumerGroup?
        /// Read only messages correlated with this category.
        public var correlation: String?
        /// Where to start when no position is recorded (global position; 1 is the start).
        public var startPosition: Int64
        /// Ignore a recorded position and start at ``startPosition``.
        public var ignoreRecordedPosition: Bool
        /// How many messages to read per query.
        public var batchSize: Int64
        /// Record the position after this many handled messages.
        public var positionUpdateInterval: Int
        /// Record the position at least this often while messages are being handled.
        public var positionUpdateTime: Duration
        /// The shortest wait between polls when caught up.
        public var minimumPollInterval: Duration
        /// The longest wait between polls when idle; waits double up to it.
        public var maximumPollInterval: Duration
        /// What to do when the handler throws.
        public var errorPolicy: ErrorPolicy
        /// Writes the position message instead of a plain store write (a cluster node
        /// writes it only while it holds the partition's lease).
        public var positionWriter: (@Sendable (NewMessage, StreamName) async throws -> Void)?
        /// Asked before each message: while it answers false (a cluster node that may have
        /// lost its lease), the subscription waits instead of handing messages over.
        public var mayHandle: (@Sendable () -> Bool)?

        public init(
            category: String,
            consumer: String? = nil,
            consumerGroup: ConsumerGroup? = nil,
            correlation: String? = nil,
            startPosition: Int64 = 1,
            ignoreRecordedPosition: Bool = false,
            batchSize: Int64 = 500,
            positionUpdateInterval: Int = 100,
            positionUpdateTime: Duration = .seconds(5),
            minimumPollInterval: Duration = .milliseconds(10),
            maximumPollInterval: Duration = .seconds(1),
            errorPolicy: ErrorPolicy = .retry(maximumBackoff: .seconds(30), skipAfter: nil)
        ) {
            self.category = category
            self.consumer = consumer
            self.consumerGroup = consumerGroup
            self.correlation = correlation
            self.startPosition = startPosition
            self.ignoreRecordedPosition = ignoreRecordedPosition
            self.batchSize = batchSize
            self.positionUpdateInterval = positionUpdateInterval
            self.positionUpdateTime = positionUpdateTime
            self.minimumPollInterval = minimumPollInterval
            self.maximumPollInterval = maximumPollInterval
            self.errorPolicy = errorPolicy
        }

        /// The stream the position is recorded in, when there is a consumer name.
        public var positionStream: StreamName? {
            consumer.map { StreamName.position(of: category, consumer: $0, member: consumerGroup?.member) }
        }
    }

    /// What a subscription does when its handler throws.
    public enum ErrorPolicy: Sendable {
        /// Retry the same message with exponential backoff (from 100 ms up to
        /// `maximumBackoff`); after `skipAfter` failed attempts (if set), skip it, log it
        /// at error level and report it to `onSkip`. Never skips silently.
        case retry(maximumBackoff: Duration, skipAfter: Int?)
        /// Stop the subscription and rethrow the handler's error from ``Subscription/run()``.
        case stop
    }

    /// What happened, for metrics and tests.
    public struct Event: Sendable {
        public enum Kind: Sendable {
            case handled, failed(attempt: Int, error: String), skipped(error: String), recorded
        }
        public var kind: Kind
        public var globalPosition: Int64
    }

    private let store: Store
    private let configuration: Configuration
    private let handler: @Sendable (Message) async throws -> Void
    private let observer: (@Sendable (Event) -> Void)?
    private let logger: Logger

    /// - Parameters:
    ///   - observer: told about every handled, failed, skipped and recorded message.
    ///   - handler: handles one message; throwing applies ``Configuration/errorPolicy``.
    public init(
        store: Store,
        configuration: Configuration,
        logger: Logger = Logger(label: "thalo.subscription"),
        observer: (@Sendable (Event) -> Void)? = nil,
        handler: @escaping @Sendable (Message) async throws -> Void
    ) {
        self.store = store
        self.configuration = configuration
        self.handler = handler
        self.observer = observer
        var logger = logger
        logger[metadataKey: "subscription.category"] = .string(configuration.category)
        if let consumer = configuration.consumer { logger[metadataKey: "subscription.consumer"] = .string(consumer) }
        self.logger = logger
    }

    /// The global position to start from: after the recorded one, or the configured start.
    public func startingPosition() async throws -> Int64 {
        if !configuration.ignoreRecordedPosition, let stream = configuration.positionStream,
            let position = try await store.recordedPosition(in: stream)
        {
            // Another client may have written the position stream: check before adding.
            guard position >= 0, position < Int64.max else {
                throw MessageStoreError(
                    .invalidData, "the recorded position \(position) in \(stream) is not a global position; remove or correct that message")
            }
            return position + 1
        }
        return configuration.startPosition
    }

    /// Reads and handles messages until cancelled or until graceful shutdown.
    public func run() async throws {
        try MessageStoreArguments.checkCategory(configuration.category)
        if let consumer = configuration.consumer { try MessageStoreArguments.checkConsumer(consumer, of: configuration.category) }
        try MessageStoreArguments.checkCorrelation(configuration.correlation)
        let start: Int64
        do {
            start = try await startingPosition()
        } catch  where Task.isCancelled {
            // Stopped while starting: nothing was read, so there is nothing to record.
            logger.debug("subscription stopped before it started", metadata: ["error": "\(error)"])
            return
        }
        logger.debug("subscription starting", metadata: ["subscription.position": "\(start)"])
        let outcome = try await cancelWhenGracefulShutdown { await self.follow(from: start) }
        let tracker = outcome.tracker
        // The final record runs in its own task: this one may be cancelled, and database
        // clients abandon queries made from a cancelled task.
        let finalRecord = Task { [tracker] in
            var tracker = tracker
            if tracker.hasUnrecorded { try await self.record(&tracker) }
        }
        if let error = outcome.error {
            try? await finalRecord.value
            throw error
        }
        try await finalRecord.value
        logger.debug("subscription stopped", metadata: ["subscription.position": "\(tracker.next)"])
    }

    private struct Outcome: Sendable {
        var tracker: PositionTracker
        var error: (any Error)?
    }

    /// The read loop; returns on cancellation, or with the error that stopped it.
    private func follow(from start: Int64) async -> Outcome {
        var tracker = PositionTracker(
            next: start, updateInterval: configuration.positionUpdateInterval,
            updateTime: configuration.positionUpdateTime)
        var backoff = Backoff(minimum: configuration.minimumPollInterval, maximum: configuration.maximumPollInterval)
        do {
            while !Task.isCancelled {
                let seenWrites = store.writeNotifier.writeCount(category: configuration.category)
                let batch: [Message]
                do {
                    batch = try await store.readCategory(
                        configuration.category, from: tracker.next, batchSize: configuration.batchSize,
                        correlation: configuration.correlation, consumerGroup: configuration.consumerGroup,
                        condition: nil)
                } catch let error as MessageStoreError
                    where error.code == .connectionFailed || error.code == .storage || error.code == .unavailable
                {
                    // The store may come back: keep polling, slowly, and say so.
                    logger.warning("reading the category failed; retrying", metadata: ["error": "\(error)"])
                    try await Task.sleep(for: backoff.nextWait())
                    continue
                }
                if batch.isEmpty {
                    if tracker.shouldRecordWhenIdle(now: .now) { try await recordOrRetryLater(&tracker) }
                    await store.writeNotifier.wait(
                        category: configuration.category, seenWriteCount: seenWrites, timeout: backoff.nextWait())
                    continue
                }
                backoff.reset()
                for message in batch {
                    if let mayHandle = configuration.mayHandle {
                        while !mayHandle() { try await Task.sleep(for: .milliseconds(50)) }
                    }
                    try await deliver(message)
                    if tracker.handled(message.globalPosition, now: .now) { try await recordOrRetryLater(&tracker) }
                    if Task.isCancelled { break }
                }
            }
            return Outcome(tracker: tracker)
        } catch is CancellationError {
            return Outcome(tracker: tracker)
        } catch let error as SubscriptionStopped {
            return Outcome(tracker: tracker, error: error.underlying)
        } catch {
            if Task.isCancelled { return Outcome(tracker: tracker) }
            return Outcome(tracker: tracker, error: error)
        }
    }

    private struct SubscriptionStopped: Error {
        let underlying: any Error
    }

    private func deliver(_ message: Message) async throws {
        var attempt = 0
        var wait = Duration.milliseconds(100)
        while true {
            attempt += 1
            do {
                try await handler(message)
                observer?(Event(kind: .handled, globalPosition: message.globalPosition))
                return
            } catch {
                if Task.isCancelled { throw CancellationError() }
                let description = String(describing: error)
                observer?(Event(kind: .failed(attempt: attempt, error: description), globalPosition: message.globalPosition))
                switch configuration.errorPolicy {
                case .stop:
                    logger.error(
                        "handler failed; stopping",
                        metadata: ["message.global_position": "\(message.globalPosition)", "error": "\(description)"])
                    throw SubscriptionStopped(underlying: error)
                case .retry(let maximumBackoff, let skipAfter):
                    if let skipAfter, attempt >= skipAfter {
                        logger.error(
                            "handler failed \(attempt) times; skipping the message as configured",
                            metadata: [
                                "message.global_position": "\(message.globalPosition)",
                                "message.stream_name": "\(message.streamName)", "message.type": "\(message.type)",
                                "error": "\(description)",
                            ])
                        observer?(Event(kind: .skipped(error: description), globalPosition: message.globalPosition))
                        return
                    }
                    logger.warning(
                        "handler failed; retrying",
                        metadata: [
                            "message.global_position": "\(message.globalPosition)", "attempt": "\(attempt)",
                            "error": "\(description)",
                        ])
                    try await Task.sleep(for: wait)
                    wait = min(wait * 2, maximumBackoff)
                }
            }
        }
    }

    /// Records the position; when the store fails, logs it and goes on handling (the
    /// position is recorded at the next chance, and delivery is at least once anyway).
    private func recordOrRetryLater(_ tracker: inout PositionTracker) async throws {
        do {
            try await record(&tracker)
        } catch {
            if Task.isCancelled { throw CancellationError() }
            logger.warning("recording the position failed; will retry", metadata: ["error": "\(error)"])
        }
    }

    private func record(_ tracker: inout PositionTracker) async throws {
        guard let stream = configuration.positionStream, let position = tracker.lastHandled else {
            tracker.recorded(now: .now)
            return
        }
        let message = NewMessage(type: "Recorded", data: .object(["position": .integer(position)]))
        if let writer = configuration.positionWriter {
            try await writer(message, stream)
        } else {
            try await store.write(message, to: stream, expectedVersion: nil)
        }
        tracker.recorded(now: .now)
        observer?(Event(kind: .recorded, globalPosition: position))
    }
}

extension StreamName {
    /// Where a consumer of `category` records its position: `{category}+position-{consumer}`,
    /// or `…-{consumer}+{member}` for a consumer group member (`bankAccount:command+position-thalo+3`).
    public static func position(of category: String, consumer: String, member: Int64? = nil) -> StreamName {
        let base = StreamName(unchecked: category)
        let id = member.map { "\(consumer)+\($0)" } ?? consumer
        return StreamName(category: base.entityName, id: id, types: base.categoryTypes + ["position"])
    }
}

extension MessageStore {
    /// The global position last recorded in a position stream (its last `Recorded`
    /// message's `position`), unchecked; nil when none is recorded.
    public func recordedPosition(in stream: StreamName) async throws -> Int64? {
        try await lastMessage(in: stream, type: "Recorded").flatMap { try $0.dataJSON()["position"]?.integerValue }
    }
}
