import ESDL
import Foundation
import JSON
import Logging
import MessageStore
import Metrics
import ServiceLifecycle
import Synchronization

/// Thalo's runtime: handles commands for the aggregates published in its registry.
///
/// A command is validated against the aggregate's ESDL, the entity is found in the cache
/// or rebuilt from its stream, the module's `handle` decides, the returned events are
/// validated and appended with the expected version, then applied to the live entity.
/// Two ways in: ``execute(_:)`` (now, returning the events) and ``submit(_:)`` (to the
/// entity's command stream, handled by the command consumer that ``run()`` starts). Both
/// are idempotent for a repeated command id.
///
/// ```swift
/// let runtime = Runtime(store: store)
/// try await runtime.publish(schema: esdl, wasm: wasm)
/// let result = try await runtime.execute(
///     CommandRequest(aggregate: "BankAccount", id: "1", command: "open_account", payload: ["initial_balance": 100]))
/// ```
public final class Runtime<Store: MessageStore & ModuleStorage>: Service, Sendable {
    public let store: Store
    public let registry: ModuleRegistry
    public let configuration: RuntimeConfiguration
    let logger: Logger
    /// Divides the command categories with other nodes; nil on a single node.
    public let coordinator: (any PartitionCoordinator)?
    /// The command categories to consume (divided by the coordinator, when there is one).
    let commandCategories = Mutex<Set<String>>([])
    /// When this runtime was made, for the cluster status of a single node.
    let startedAt = Date()
    /// The running version of each aggregate, by name.
    private let active = Mutex<[String: AggregateRuntime<Store>]>([:])
    /// Loads in progress, so that concurrent first commands load a module once.
    private let activating = Mutex<[String: Task<AggregateRuntime<Store>?, any Error>]>([:])
    /// Submitted commands parked in a dead-letter stream.
    private let deadLettered = Counter(label: "thalo_commands_dead_lettered_total")
    /// Command consumers restarted after an error.
    let consumerRestarts = Counter(label: "thalo_command_consumer_restarts_total")
    /// Submitted commands delivered again whose first outcome was found and kept.
    private let redelivered = Counter(label: "thalo_commands_redelivered_total")

    /// - Parameter coordinator: divides the command streams with the other nodes on the same
    ///   store; without one, this runtime consumes every command stream.
    public init(
        store: Store, configuration: RuntimeConfiguration = RuntimeConfiguration(), coordinator: (any PartitionCoordinator)? = nil,
        logger: Logger = Logger(label: "thalo.runtime")
    ) {
        self.store = store
        self.coordinator = coordinator
        self.configuration = configuration
        self.logger = logger
        self.registry = ModuleRegistry(storage: store, limits: configuration.limits, logger: logger)
    }

    // MARK: Modules

    /// Publishes a module version and makes new commands run on it at once (live upgrade:
    /// the entities of the previous version are rebuilt under the new code on next use).
    /// The version is first checked against the stored history of its category with the
    /// default ``DeployCheck`` (every stream replayed); see
    /// ``publish(schema:wasm:expectedName:file:check:)``.
    @discardableResult
    public func publish(schema: String, wasm: [UInt8], expectedName: String? = nil, file: String = "schema.esdl") async throws(RuntimeError)
        -> ModuleInfo
    {
        try await publish(schema: schema, wasm: wasm, expectedName: expectedName, file: file, check: DeployCheck()).info
    }

    /// The running module version of each aggregate with a running version.
    public func activeVersions() -> [String: SemanticVersion] {
        active.withLock { $0.mapValues(\.module.version) }
    }

    /// Switches an aggregate to a module version; an older one than the running version
    /// only with `replacingNewer` (a rollback), so that a slow load never undoes a publish.
    func activate(_ module: AggregateModule, replacingNewer: Bool = false) async {
        let running = AggregateRuntime(module: module, store: store, configuration: configuration, logger: logger)
        let previous = active.withLock { active -> AggregateRuntime<Store>? in
            if let current = active[module.name],
                current.module.version == module.version || (current.module.version > module.version && !replacingNewer)
            {
                return nil
            }
            let previous = active[module.name]
            active[module.name] = running
            return previous
        }
        if let previous {
            logger.info(
                "switched aggregate to another version; entities are rebuilt under it",
                metadata: [
                    "module.name": "\(module.name)", "module.version": "\(module.version)", "module.previous": "\(previous.module.version)",
                ])
            await previous.shutdown()
        }
    }

    /// Returns once the snapshots scheduled so far (every N events, off the command path)
    /// are written: for tests and benchmarks that look at the snapshot streams.
    public func snapshotsSettled() async {
        for running in active.withLock({ Array($0.values) }) { await running.snapshotsSettled() }
    }

    /// The batches decided so far by the running versions of every aggregate (for
    /// benchmarks and diagnostics).
    public func batchStatistics() async -> BatchStatistics {
        var total = BatchStatistics()
        for running in active.withLock({ Array($0.values) }) {
            for worker in running.workers {
                let counted = await worker.batchStatistics
                total.batches += counted.batches
                total.commands += counted.commands
                total.appends += counted.appends
                total.followedAppends += counted.followedAppends
            }
        }
        return total
    }

    /// How many commands wait for an entity that is busy (for tests of batches).
    func queuedCommands(aggregate name: String, id: String) async throws(RuntimeError) -> Int {
        try await aggregate(name).worker(for: id).queuedCommands(entityID: id)
    }

    /// How many events an entity has applied that are not written yet (for tests).
    func unwrittenEvents(aggregate name: String, id: String) async throws(RuntimeError) -> Int64 {
        try await aggregate(name).worker(for: id).unwrittenEvents(entityID: id)
    }

    /// The running version of an aggregate, loading the newest published one on first use.
    /// Accepts the aggregate's name (`BankAccount`) or its category (`bankAccount`).
    func aggregate(_ name: String) async throws(RuntimeError) -> AggregateRuntime<Store> {
        if let running = active.withLock({ active in active[name] ?? active.values.first { $0.module.schema.aggregate.category == name } })
        {
            return running
        }
        let task = activating.withLock { loads in
            if let existing = loads[name] { return existing }
            let task = Task<AggregateRuntime<Store>?, any Error> {
                let names = try await self.registry.latestVersions()
                guard let match = names.keys.first(where: { $0 == name || Aggregate(name: $0, commands: []).category == name }) else {
                    return nil
                }
                let version = try await self.activeVersion(of: match, newest: names[match]!)
                guard let module = try await self.registry.module(named: match, version: version) else { return nil }
                await self.activate(module)
                return self.active.withLock { $0[match] }
            }
            loads[name] = task
            return task
        }
        defer { _ = activating.withLock { $0.removeValue(forKey: name) } }
        do {
            if let running = try await task.value { return running }
        } catch let error as RuntimeError {
            throw error
        } catch {
            throw RuntimeError.store(error, while: "loading the module of \(name)")
        }
        throw RuntimeError(
            .unknownAggregate, "no module is published for aggregate \(name); publish one with `thalo publish <schema.esdl> <module.wasm>`",
            aggregate: name)
    }

    /// Follows versions published or activated by other processes.
    public func refreshModules() async throws(RuntimeError) {
        for (name, newest) in try await registry.latestVersions() {
            guard let current = active.withLock({ $0[name]?.module.version }) else { continue }
            let version = try await activeVersion(of: name, newest: newest)
            guard version != current else { continue }
            if let module = try await registry.module(named: name, version: version) { await activate(module, replacingNewer: true) }
        }
    }

    // MARK: Commands

    /// Handles a command now and returns what it wrote.
    ///
    /// - Throws: ``RuntimeError``: `invalidPayload` (with field paths), `unknownAggregate`,
    ///   `unknownCommand`, `invalidEntityID`, `rejected` (a domain rule), `conflict`,
    ///   `moduleFailure`, `invalidEvents`, `store`. Nothing is written when it throws.
    public func execute(_ request: CommandRequest) async throws(RuntimeError) -> CommandResult {
        let start = ContinuousClock.now
        let running = try await aggregate(request.aggregate)
        let commandID = request.commandID ?? .timeOrdered()
        let commandStream = try Self.commandStream(for: running.module, id: request.id)
        if let reply = request.metadata?.replyStreamName {
            try await checkReplyStream(reply, aggregate: running.module.name)
        }
        let prepared = try prepare(
            request, module: running.module, commandID: commandID, commandStream: commandStream, position: -1, globalPosition: -1,
            time: .now())
        do {
            let outcome = try await running.worker(for: request.id).execute(entityID: request.id, command: prepared)
            running.metrics.handled.increment()
            running.metrics.latency.record(since: start)
            return CommandResult(
                outcome: outcome, aggregate: running.module.name,
                streamName: StreamName(category: running.module.schema.aggregate.category, id: request.id), commandID: commandID,
                moduleVersion: running.module.versionText)
        } catch {
            if error.code != .rejected { running.metrics.failed.increment() }
            throw error
        }
    }

    /// Writes a command to the entity's command stream (`{category}:command-{id}`), where
    /// the command consumer of ``run()`` (in this or another process) handles it.
    ///
    /// The payload is validated first. A repeated command id writes nothing and returns
    /// the position of the first submission.
    public func submit(_ request: CommandRequest) async throws(RuntimeError) -> SubmitReceipt {
        let running = try await aggregate(request.aggregate)
        let commandID = request.commandID ?? .timeOrdered()
        let stream = try Self.commandStream(for: running.module, id: request.id)
        try validatePayload(request, module: running.module)
        if let reply = request.metadata?.replyStreamName {
            try await checkReplyStream(reply, aggregate: running.module.name)
        }
        let message = NewMessage(id: commandID, type: request.command, data: request.payload, metadata: request.metadata)
        do {
            let written = try await store.append([message], to: stream, expectedVersion: nil)
            let recorded = written.recorded[0]
            return SubmitReceipt(
                commandID: commandID, streamName: stream, position: recorded.position, globalPosition: recorded.globalPosition,
                duplicate: false)
        } catch let error as MessageStoreError where error.code == .duplicateMessageID {
            let original: Message?
            do {
                original = try await store.readWholeStream(stream).first(where: { $0.id == commandID })
            } catch {
                throw RuntimeError.store(error, while: "reading \(stream)")
            }
            // The same id is a repeat only for the same command and payload on this stream.
            guard let original, original.type == request.command, (try? original.dataJSON()) == request.payload else {
                throw RuntimeError(
                    .idempotencyKeyReused,
                    "command id \(commandID.lowercasedText) was already used for a different message"
                        + (original == nil ? "" : " on \(stream)") + "; use a new id for a different command",
                    aggregate: running.module.name)
            }
            return SubmitReceipt(
                commandID: commandID, streamName: stream, position: original.position,
                globalPosition: original.globalPosition, duplicate: true)
        } catch {
            throw RuntimeError.store(error, while: "writing the command to \(stream)")
        }
    }

    /// Checks a reply stream name given with a command: a stream (`category-id`) Thalo can
    /// write to, and not inside the event category of a published aggregate (replies there
    /// would become events of an entity).
    public func checkReplyStream(_ name: String, aggregate: String? = nil) async throws(RuntimeError) {
        if let problem = StreamName.problem(in: name) {
            throw RuntimeError(.invalidReplyStream, "invalid reply stream name \"\(name)\": \(problem)", aggregate: aggregate)
        }
        let stream = StreamName(unchecked: name)
        guard !stream.isCategory else {
            throw RuntimeError(
                .invalidReplyStream, "invalid reply stream name \"\(name)\": it names a category; give a stream such as \(name)-1",
                aggregate: aggregate)
        }
        let categories = Set(try await registry.latestVersions().keys.map { Aggregate(name: $0, commands: []).category })
        if categories.contains(stream.category) {
            throw RuntimeError(
                .invalidReplyStream,
                "reply stream \(name) is in the event category of an aggregate (\(stream.category)); replies must go elsewhere, "
                    + "for example \(stream.category):reply-\(stream.id ?? "1")",
                aggregate: aggregate)
        }
    }

    /// Handles a command message read from a command stream.
    public func handleSubmitted(_ message: Message) async throws(RuntimeError) -> CommandResult {
        let start = ContinuousClock.now
        let stream = message.streamName
        guard let id = stream.id else {
            throw RuntimeError(.invalidEntityID, "command stream \(stream) has no entity id")
        }
        let running = try await aggregate(stream.entityName)
        try Self.checkEntityID(id, aggregate: running.module.name)
        let payload: JSONValue
        let metadata: Metadata
        do {
            payload = try message.dataJSON()
            metadata = try message.parsedMetadata()
        } catch {
            throw RuntimeError(
                .invalidPayload, "command message \(message.id) in \(stream): \(error.message)", aggregate: running.module.name)
        }
        let request = CommandRequest(
            aggregate: running.module.name, id: id, command: message.type, payload: payload, commandID: message.id,
            metadata: metadata)
        let prepared = try prepare(
            request, module: running.module, commandID: message.id, commandStream: stream, position: message.position,
            globalPosition: message.globalPosition, time: message.time, commandMetadataText: message.metadata)
        let outcome = try await running.worker(for: id).execute(entityID: id, command: prepared)
        running.metrics.handled.increment()
        running.metrics.latency.record(since: start)
        return CommandResult(
            outcome: outcome, aggregate: running.module.name,
            streamName: StreamName(category: running.module.schema.aggregate.category, id: id), commandID: message.id,
            moduleVersion: running.module.versionText)
    }

    // MARK: Time travel

    /// An entity's events and state up to a point of its history, computed by the running
    /// module version on a fresh entity (the live one is not touched).
    public func entity(aggregate name: String, id: String, at point: HistoryPoint = .latest) async throws(RuntimeError) -> EntityView {
        let running = try await aggregate(name)
        try Self.checkEntityID(id, aggregate: running.module.name)
        let stream = StreamName(category: running.module.schema.aggregate.category, id: id)
        return try await running.viewWorker.view(entityID: id, stream: stream, at: point)
    }

    // MARK: Service

    /// Runs the command consumers and watches the registry for new versions, until
    /// cancelled or graceful shutdown.
    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await withThrowingDiscardingTaskGroup { group in
                var consuming: Set<String> = []
                if let coordinator = self.coordinator, self.configuration.consumesCommands {
                    let consumer = self.configuration.consumerName
                    group.addTask {
                        try await PartitionedConsumers.run(
                            coordinator: coordinator,
                            work: { self.commandCategories.withLock { $0.map { PartitionedCategory(category: $0, consumer: consumer) } } },
                            logger: self.logger
                        ) { lease in
                            await self.keepConsumingCommands(category: lease.category, lease: lease)
                        }
                    }
                }
                // A child that fails (a cluster node refused for its id) cancels the group,
                // not this task: the loop ends then, and run() throws that child's error.
                while !Task.isCancelled && !group.isCancelled {
                    do {
                        try await self.refreshModules()
                        if self.configuration.consumesCommands {
                            for name in try await self.registry.latestVersions().keys where !consuming.contains(name) {
                                consuming.insert(name)
                                let running = try await self.aggregate(name)
                                let category = running.module.schema.aggregate.category + ":command"
                                self.commandCategories.withLock { _ = $0.insert(category) }
                                // A cluster node consumes the partitions it holds (`runClusterNode`).
                                if self.coordinator == nil {
                                    group.addTask { await self.keepConsumingCommands(category: category) }
                                }
                            }
                        }
                    } catch {
                        self.logger.warning("could not refresh the registry", metadata: ["error": "\(error)"])
                    }
                    try? await Task.sleep(for: self.configuration.registryPollInterval)
                }
            }
        }
    }

    /// Runs a command consumer until shutdown: a consumer that stops on an error (the
    /// store went away while it read its position, say) is logged and started again after
    /// a backoff, so one failure never stops the server.
    func keepConsumingCommands(category: String, lease: PartitionLease? = nil) async {
        var backoff = Backoff(minimum: .milliseconds(100), maximum: .seconds(5))
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await consumeCommands(category: category, lease: lease)
                return
            } catch {
                if Task.isCancelled { return }
                consumerRestarts.increment()
                logger.warning(
                    "command consumer stopped on an error; restarting it",
                    metadata: ["subscription.category": "\(category)", "error": "\(error)"])
                try? await Task.sleep(for: backoff.nextWait())
            }
        }
    }

    private func consumeCommands(category: String, lease: PartitionLease?) async throws {
        var configuration = Subscription<Store>.Configuration(
            category: category, consumer: self.configuration.consumerName, consumerGroup: lease?.consumerGroup,
            positionUpdateInterval: 100, positionUpdateTime: .seconds(1),
            errorPolicy: .retry(maximumBackoff: lease == nil ? .seconds(5) : .seconds(1), skipAfter: nil))
        if let lease, let coordinator {
            configuration.lease(lease, from: coordinator)
            configuration.startPosition = try await undividedStart(category: category)
        }
        let deadLetters = StreamName(
            category: StreamName(unchecked: category).entityName, id: self.configuration.consumerName,
            types: StreamName(unchecked: category).categoryTypes + ["deadLetter"])
        // Commands at or below the horizon may have been handled before this consumer
        // started (its position is recorded every 100 messages or 1 s, so a crash
        // redelivers some): their first outcome is looked up before deciding them again.
        // A message the subscription hands over again after an error is looked up too.
        let horizon = try await store.lastGlobalPosition()
        let lastStarted = Mutex<Int64>(0)
        let subscription = Subscription(store: store, configuration: configuration, logger: logger) { message in
            let retried = lastStarted.withLock { last in
                defer { last = message.globalPosition }
                return last == message.globalPosition
            }
            try await self.consume(message, deadLetters: deadLetters, mayHaveBeenHandled: retried || message.globalPosition <= horizon)
        }
        try await subscription.run()
    }

    /// Handles one submitted command for the consumer. A command decided by the aggregate
    /// (or one that cannot be handled at all) is answered on its reply stream; a store that
    /// is unavailable makes the consumer retry the same message with backoff; a message
    /// whose outcome cannot be written after ``RuntimeConfiguration/deadLetterAttempts``
    /// tries is parked in the dead-letter stream so that it never holds up the others.
    private func consume(_ message: Message, deadLetters: StreamName, mayHaveBeenHandled: Bool) async throws {
        var attempt = 0
        while true {
            attempt += 1
            do {
                try await handleOrReply(message, mayHaveBeenHandled: mayHaveBeenHandled || attempt > 1)
                return
            } catch {
                if isTransientFailure(error) { throw error }  // the subscription retries with backoff
                if Task.isCancelled { throw CancellationError() }
                guard attempt >= configuration.deadLetterAttempts else {
                    try await Task.sleep(for: .milliseconds(50 << min(attempt, 6)))
                    continue
                }
                try await park(message, error: error, attempts: attempt, in: deadLetters)
                return
            }
        }
    }

    /// Handles a submitted command; a command that cannot succeed is not retried: it is
    /// logged (and the reply stream told, when the command named one).
    ///
    /// A command is decided once. Its events carry its id, so a redelivered command that
    /// wrote events finds them; an outcome without events (rejected, ignored, or accepted
    /// with no event) is recorded in `{category}:command+outcome-{id}` before any reply,
    /// and a command that may have been handled before looks there first and keeps that
    /// outcome (re-sending a rejection's reply, which its fixed id makes idempotent).
    private func handleOrReply(_ message: Message, mayHaveBeenHandled: Bool) async throws {
        let outcomes = Self.outcomeStream(of: message)
        if mayHaveBeenHandled, let outcomes, let earlier = try await earlierOutcome(of: message, in: outcomes) {
            redelivered.increment()
            logger.info(
                "submitted command delivered again: keeping its first outcome",
                metadata: ["message.stream_name": "\(message.streamName)", "outcome": "\(earlier.type)"])
            if earlier.type == OutcomeRecord.rejected, let data = try? earlier.dataJSON() {
                try await reply(to: message, code: data["code"]?.stringValue ?? "rejected", text: data["message"]?.stringValue ?? "")
            }
            return
        }
        let result: CommandResult
        do {
            result = try await handleSubmitted(message)
        } catch {
            try await rejected(message, failure: error, outcomes: outcomes)
            return
        }
        switch result.outcome {
        case .recorded(let events) where events.isEmpty:
            try await record(OutcomeRecord.accepted, for: message, data: [:], in: outcomes)
        case .ignored(let reason):
            try await record(
                OutcomeRecord.accepted, for: message, data: ["ignored": true, "reason": reason.map(JSONValue.string) ?? .null],
                in: outcomes)
        case .recorded, .duplicate:
            break
        }
    }

    /// A submitted command that failed: a transient failure is thrown for a retry; a
    /// permanent one is logged, recorded and answered on the reply stream.
    private func rejected(_ message: Message, failure: RuntimeError, outcomes: StreamName?) async throws {
        guard Self.isPermanent(failure) else { throw failure }
        logger.warning(
            "submitted command not handled",
            metadata: [
                "message.stream_name": "\(message.streamName)", "message.position": "\(message.position)", "error": "\(failure)",
            ])
        let data: JSONValue = ["code": .string(failure.code.description), "message": .string(failure.message)]
        if let earlier = try await record(OutcomeRecord.rejected, for: message, data: data, in: outcomes) {
            // Another consumer recorded it first: its outcome stands.
            guard earlier.type == OutcomeRecord.rejected, let data = try? earlier.dataJSON() else { return }
            try await reply(to: message, code: data["code"]?.stringValue ?? "rejected", text: data["message"]?.stringValue ?? "")
            return
        }
        try await reply(to: message, code: failure.code.description, text: failure.message)
    }

    /// `{category}:command+outcome-{id}` for a command in `{category}:command-{id}`.
    static func outcomeStream(of message: Message) -> StreamName? {
        let stream = message.streamName
        guard let id = stream.id, StreamName.problem(in: stream.rawValue) == nil else { return nil }
        return StreamName(category: stream.entityName, id: id, types: stream.categoryTypes + ["outcome"])
    }

    /// The recorded outcome of a command's earlier delivery, if any.
    private func earlierOutcome(of message: Message, in outcomes: StreamName) async throws -> Message? {
        let id = UUID.derived(from: message.id, index: -3)
        do {
            return try await store.readWholeStream(outcomes).first { $0.id == id }
        } catch {
            throw RuntimeError.store(error, while: "reading \(outcomes)")
        }
    }

    /// Records a command's outcome that wrote no event; returns the earlier record when
    /// one with the same id was already there.
    @discardableResult
    private func record(_ type: String, for message: Message, data: JSONValue, in outcomes: StreamName?) async throws -> Message? {
        guard let outcomes else { return nil }
        var members = data.objectValue ?? [:]
        members["commandId"] = .string(message.id.lowercasedText)
        members["commandType"] = .string(message.type)
        let record = NewMessage(
            id: UUID.derived(from: message.id, index: -3), type: type, data: .object(members),
            metadata: Metadata(
                causationMessageStreamName: message.streamName.rawValue, causationMessagePosition: message.position,
                causationMessageGlobalPosition: message.globalPosition))
        do {
            try await store.write(record, to: outcomes)
            return nil
        } catch let error as MessageStoreError where error.code == .duplicateMessageID {
            return try await earlierOutcome(of: message, in: outcomes)
        } catch {
            throw RuntimeError.store(error, while: "recording the outcome of \(message.type) in \(outcomes)")
        }
    }

    /// Writes a message the consumer gave up on to the dead-letter stream, with why.
    private func park(_ message: Message, error: any Error, attempts: Int, in deadLetters: StreamName) async throws {
        logger.error(
            "submitted command parked in the dead-letter stream",
            metadata: [
                "message.stream_name": "\(message.streamName)", "message.position": "\(message.position)",
                "dead_letter.stream_name": "\(deadLetters)", "error": "\(error)",
            ])
        let code: String
        switch error {
        case let error as RuntimeError: code = error.code.description
        case let error as MessageStoreError: code = error.code.description
        default: code = "internal"
        }
        let data: JSONValue = [
            "messageId": .string(message.id.lowercasedText), "streamName": .string(message.streamName.rawValue),
            "position": .integer(message.position), "globalPosition": .integer(message.globalPosition),
            "type": .string(message.type), "data": .string(message.data), "metadata": message.metadata.map(JSONValue.string) ?? .null,
            "attempts": .integer(Int64(attempts)),
            "error": ["code": .string(code), "message": .string(String(describing: error))],
        ]
        let parked = NewMessage(
            id: UUID.derived(from: message.id, index: -2), type: "DeadLetter", data: data,
            metadata: Metadata(
                causationMessageStreamName: message.streamName.rawValue, causationMessagePosition: message.position,
                causationMessageGlobalPosition: message.globalPosition))
        do {
            try await store.write(parked, to: deadLetters)
        } catch let error as MessageStoreError where error.code == .duplicateMessageID {
            // Parked before a crash: once is enough.
        }
        deadLettered.increment()
    }

    private static func isPermanent(_ error: RuntimeError) -> Bool {
        error.code != .store && error.code != .unavailable
    }

    /// Writes `CommandRejected` to the command's `replyStreamName`, when it has one.
    private func reply(to message: Message, code: String, text: String) async throws {
        guard let replyStream = (try? message.parsedMetadata())?.replyStreamName else { return }
        // Commands written by other programs were not checked at submit: a reply stream that
        // is malformed or inside an aggregate's events is refused here (and the command parked).
        try await checkReplyStream(replyStream)
        let reply = NewMessage(
            id: UUID.derived(from: message.id, index: -1), type: "CommandRejected",
            data: ["code": .string(code), "message": .string(text)],
            metadata: Metadata(
                causationMessageStreamName: message.streamName.rawValue, causationMessagePosition: message.position,
                causationMessageGlobalPosition: message.globalPosition))
        do {
            try await store.write(reply, to: StreamName(validating: replyStream))
        } catch let error as MessageStoreError where error.code == .duplicateMessageID {
            return
        }
    }

    // MARK: Preparing commands

    /// The most characters (Unicode scalars) an entity id may have: with an aggregate name
    /// of at most 64 characters (ESDL's limit), every stream Thalo derives from the id
    /// (`{category}:command+outcome-{id}` is the longest) stays within
    /// ``StreamName/maximumLength``.
    public static var maximumEntityIDLength: Int { 200 }

    /// Refuses an entity id that cannot end a stream name: empty, with whitespace or
    /// control characters, ending in '-', or longer than ``maximumEntityIDLength``.
    static func checkEntityID(_ id: String, aggregate: String) throws(RuntimeError) {
        let problem: String
        if id.isEmpty || StreamName.containsWhitespaceOrControl(id) || id.utf8.last == UInt8(ascii: "-") {
            problem = "it must be non-empty, without whitespace or control characters, and not end in '-'"
        } else if let length = StreamName.length(of: id, beyond: maximumEntityIDLength) {
            problem = "it is \(length) characters long; ids have at most \(maximumEntityIDLength)"
        } else {
            return
        }
        throw RuntimeError(.invalidEntityID, "invalid entity id \"\(id)\": \(problem)", aggregate: aggregate)
    }

    private static func commandStream(for module: AggregateModule, id: String) throws(RuntimeError) -> StreamName {
        // The name is the module's valid prefix and the id: only the id needs checking.
        try checkEntityID(id, aggregate: module.name)
        return StreamName(unchecked: module.commandStreamPrefix + id)
    }

    private func validatePayload(_ request: CommandRequest, module: AggregateModule) throws(RuntimeError) {
        guard module.schema.command(named: request.command) != nil else {
            let known = module.schema.aggregate.commands.map(\.name).joined(separator: ", ")
            throw RuntimeError(
                .unknownCommand, "\(module.name) has no command \(request.command); it has \(known)", aggregate: module.name,
                moduleVersion: module.version.description)
        }
        if module.schema.isValidCommand(request.command, payload: request.payload) { return }
        let problems = module.schema.validateCommand(request.command, payload: request.payload)
        guard problems.isEmpty else {
            throw RuntimeError(
                .invalidPayload,
                "invalid \(request.command) payload: " + problems.map(\.description).joined(separator: "; "),
                aggregate: module.name, moduleVersion: module.version.description, payloadErrors: problems)
        }
    }

    private func prepare(
        _ request: CommandRequest, module: AggregateModule, commandID: UUID, commandStream: StreamName, position: Int64,
        globalPosition: Int64, time: Timestamp, commandMetadataText: String? = nil
    ) throws(RuntimeError) -> PreparedCommand {
        try validatePayload(request, module: module)
        // The guest gets integral numbers as integers, whatever their spelling (`3.0`, `3e0`).
        let payloadText = module.schema.normalizingIntegers(command: request.command, payload: request.payload).jsonText
        try checkPayloadSize(payloadText, request: request, module: module)
        let digest = CommandDigest(command: request.command, payloadText: payloadText)
        let commandMetadata = request.metadata ?? Metadata()
        let eventMetadataText: String
        var correlationStreamName: String?
        if commandMetadata.isEmpty {
            eventMetadataText = Metadata.eventsText(
                of: commandID, stream: commandStream, position: position, globalPosition: globalPosition, digest: digest, module: module)
        } else {
            let eventMetadata = Metadata.events(
                of: commandID, stream: commandStream, position: position, globalPosition: globalPosition,
                commandMetadata: commandMetadata, digest: digest, module: module)
            eventMetadataText = eventMetadata.jsonText
            correlationStreamName = eventMetadata.correlationStreamName
        }
        let context = GuestContext(
            id: commandID.lowercasedText, streamName: commandStream.rawValue, position: position,
            globalPosition: globalPosition, metadata: commandMetadataText ?? commandMetadata.jsonText,
            time: time.microsecondsSinceEpoch)
        return PreparedCommand(
            commandID: commandID, command: request.command, payloadText: payloadText, context: context,
            eventMetadata: eventMetadataText, correlationStreamName: correlationStreamName, digest: digest)
    }

    /// Refuses a valid payload too large to hand to the module: it must fit in the guest's
    /// memory next to the entity's state, so a quarter of the memory cap is the limit.
    private func checkPayloadSize(_ text: String, request: CommandRequest, module: AggregateModule) throws(RuntimeError) {
        let limit = Self.maximumPayloadBytes(module.limits)
        guard text.utf8.count > limit else { return }
        throw RuntimeError(
            .payloadTooLarge,
            "the \(request.command) payload is \(text.utf8.count) bytes; modules take payloads of at most \(limit) bytes "
                + "(a quarter of the module memory cap of \(module.limits.maximumMemoryBytes) bytes)",
            aggregate: module.name, moduleVersion: module.version.description)
    }

    /// The largest command payload handed to a module with these limits.
    public static func maximumPayloadBytes(_ limits: ModuleLimits) -> Int { limits.maximumMemoryBytes / 4 }
}

/// Message types of the outcome streams (`{category}:command+outcome-{id}`).
enum OutcomeRecord {
    static let rejected = "CommandRejected"
    static let accepted = "CommandAccepted"
}

extension Metadata {
    /// The metadata of the events a command writes: its causation (stream, positions),
    /// correlation and reply streams, the command's id and digest, and the module that
    /// decided (name, version, digest). `thalo test` applies returned events with the same.
    static func events(
        of commandID: UUID, stream: StreamName, position: Int64, globalPosition: Int64, commandMetadata: Metadata,
        digest: CommandDigest, module: AggregateModule
    ) -> Metadata {
        var metadata = Metadata(
            causationMessageStreamName: stream.rawValue,
            causationMessagePosition: position >= 0 ? position : nil,
            causationMessageGlobalPosition: globalPosition >= 0 ? globalPosition : nil,
            correlationStreamName: commandMetadata.correlationStreamName,
            replyStreamName: commandMetadata.replyStreamName,
            schemaVersion: module.version.description)
        metadata.properties["commandId"] = .string(commandID.lowercasedText)
        metadata.properties["commandDigest"] = .string(digest.text)
        metadata.properties["moduleName"] = .string(module.name)
        metadata.properties["moduleVersion"] = .string(module.version.description)
        metadata.properties["moduleDigest"] = .string(module.digest)
        return metadata
    }

    /// The JSON text of ``events(of:stream:position:globalPosition:commandMetadata:digest:module:)``
    /// for a command without metadata of its own, written directly: every command pays for
    /// it, and the general path builds, sorts and writes ten members. The keys come in the
    /// sorted order ``jsonText`` writes (`RuntimeTests` compares the two).
    static func eventsText(
        of commandID: UUID, stream: StreamName, position: Int64, globalPosition: Int64, digest: CommandDigest,
        module: AggregateModule
    ) -> String {
        var text = "{"
        text.reserveCapacity(320)
        if globalPosition >= 0 { text += "\"causationMessageGlobalPosition\":\(globalPosition)," }
        if position >= 0 { text += "\"causationMessagePosition\":\(position)," }
        text += "\"causationMessageStreamName\":"
        JSONValue.writeString(stream.rawValue, to: &text)
        text += ",\"commandDigest\":"
        JSONValue.writeString(digest.text, to: &text)
        text += ",\"commandId\":\""
        text += commandID.lowercasedText
        text += "\""
        text += module.eventMetadataTail
        return text
    }
}
