import ESDL
import Foundation
import JSON
import Logging
import MessageStore
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
    private let logger: Logger
    /// The running version of each aggregate, by name.
    private let active = Mutex<[String: AggregateRuntime<Store>]>([:])
    /// Loads in progress, so that concurrent first commands load a module once.
    private let activating = Mutex<[String: Task<AggregateRuntime<Store>?, any Error>]>([:])

    public init(store: Store, configuration: RuntimeConfiguration = RuntimeConfiguration(), logger: Logger = Logger(label: "thalo.runtime")) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.registry = ModuleRegistry(storage: store, limits: configuration.limits, logger: logger)
    }

    // MARK: Modules

    /// Publishes a module version and makes new commands run on it at once (live upgrade:
    /// the entities of the previous version are rebuilt under the new code on next use).
    @discardableResult
    public func publish(schema: String, wasm: [UInt8], expectedName: String? = nil, file: String = "schema.esdl") async throws(RuntimeError) -> ModuleInfo {
        let info = try await registry.publish(schema: schema, wasm: wasm, expectedName: expectedName, file: file)
        if let module = try await registry.module(named: info.name, version: info.version) {
            await activate(module)
        }
        return info
    }

    /// The running module version of each aggregate with a running version.
    public func activeVersions() -> [String: SemanticVersion] {
        active.withLock { $0.mapValues(\.module.version) }
    }

    /// Switches an aggregate to a module version.
    private func activate(_ module: AggregateModule) async {
        let running = AggregateRuntime(module: module, store: store, configuration: configuration, logger: logger)
        let previous = active.withLock { active -> AggregateRuntime<Store>? in
            if let current = active[module.name], current.module.version >= module.version { return nil }
            let previous = active[module.name]
            active[module.name] = running
            return previous
        }
        if let previous {
            logger.info(
                "upgraded aggregate; entities are rebuilt under the new version",
                metadata: ["module.name": "\(module.name)", "module.version": "\(module.version)", "module.previous": "\(previous.module.version)"])
            await previous.shutdown()
        }
    }

    /// The running version of an aggregate, loading the newest published one on first use.
    /// Accepts the aggregate's name (`BankAccount`) or its category (`bankAccount`).
    func aggregate(_ name: String) async throws(RuntimeError) -> AggregateRuntime<Store> {
        if let running = active.withLock({ active in active[name] ?? active.values.first { $0.module.schema.aggregate.category == name } }) {
            return running
        }
        let task = activating.withLock { loads in
            if let existing = loads[name] { return existing }
            let task = Task<AggregateRuntime<Store>?, any Error> {
                let names = try await self.registry.latestVersions()
                guard let match = names.keys.first(where: { $0 == name || Aggregate(name: $0, commands: []).category == name }),
                    let module = try await self.registry.module(named: match, version: names[match]!)
                else { return nil }
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

    /// Activates newer versions published by other processes.
    public func refreshModules() async throws(RuntimeError) {
        for (name, version) in try await registry.latestVersions() {
            let current = active.withLock { $0[name]?.module.version }
            guard let current, current < version else { continue }
            if let module = try await registry.module(named: name, version: version) { await activate(module) }
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
        let commandID = request.commandID ?? UUID()
        let commandStream = try Self.commandStream(for: running.module, id: request.id)
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
                moduleVersion: running.module.version.description)
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
        let commandID = request.commandID ?? UUID()
        let stream = try Self.commandStream(for: running.module, id: request.id)
        try validatePayload(request, module: running.module)
        let message = NewMessage(id: commandID, type: request.command, data: request.payload, metadata: request.metadata)
        do {
            let written = try await store.append([message], to: stream, expectedVersion: nil)
            let recorded = written.recorded[0]
            return SubmitReceipt(
                commandID: commandID, streamName: stream, position: recorded.position, globalPosition: recorded.globalPosition,
                duplicate: false)
        } catch let error as MessageStoreError where error.code == .duplicateMessageID {
            do {
                if let original = try await store.readWholeStream(stream).first(where: { $0.id == commandID }) {
                    return SubmitReceipt(
                        commandID: commandID, streamName: stream, position: original.position,
                        globalPosition: original.globalPosition, duplicate: true)
                }
            } catch {
                throw RuntimeError.store(error, while: "reading \(stream)")
            }
            throw RuntimeError(
                .conflict, "command id \(commandID.lowercasedText) was already used for another message; use a new id",
                aggregate: running.module.name)
        } catch {
            throw RuntimeError.store(error, while: "writing the command to \(stream)")
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
        let payload: JSONValue
        let metadata: Metadata
        do {
            payload = try message.dataJSON()
            metadata = try message.parsedMetadata()
        } catch {
            throw RuntimeError(.invalidPayload, "command message \(message.id) in \(stream): \(error.message)", aggregate: running.module.name)
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
            moduleVersion: running.module.version.description)
    }

    // MARK: Time travel

    /// An entity's events and state up to a point of its history, computed by the running
    /// module version on a fresh entity (the live one is not touched).
    public func entity(aggregate name: String, id: String, at point: HistoryPoint = .latest) async throws(RuntimeError) -> EntityView {
        let running = try await aggregate(name)
        let stream = StreamName(category: running.module.schema.aggregate.category, id: id)
        if let problem = StreamName.problem(in: stream.rawValue) {
            throw RuntimeError(.invalidEntityID, "invalid entity id \"\(id)\": \(problem)", aggregate: running.module.name)
        }
        return try await running.worker(for: id).view(entityID: id, stream: stream, at: point)
    }

    // MARK: Service

    /// Runs the command consumers and watches the registry for new versions, until
    /// cancelled or graceful shutdown.
    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await withThrowingDiscardingTaskGroup { group in
                var consuming: Set<String> = []
                while !Task.isCancelled {
                    do {
                        try await self.refreshModules()
                        if self.configuration.consumesCommands {
                            for name in try await self.registry.latestVersions().keys where !consuming.contains(name) {
                                consuming.insert(name)
                                let running = try await self.aggregate(name)
                                let category = running.module.schema.aggregate.category + ":command"
                                group.addTask { try await self.consumeCommands(category: category) }
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

    private func consumeCommands(category: String) async throws {
        let subscription = Subscription(
            store: store,
            configuration: .init(category: category, consumer: configuration.consumerName, positionUpdateInterval: 100, positionUpdateTime: .seconds(1)),
            logger: logger
        ) { message in
            do {
                _ = try await self.handleSubmitted(message)
            } catch let error as RuntimeError where Self.isPermanent(error) {
                // A command that cannot succeed is not retried: it is logged (and the reply
                // stream told, when the command named one) and the consumer moves on.
                self.logger.warning(
                    "submitted command not handled",
                    metadata: ["message.stream_name": "\(message.streamName)", "message.position": "\(message.position)", "error": "\(error)"])
                try await self.reply(to: message, error: error)
            }
        }
        try await subscription.run()
    }

    private static func isPermanent(_ error: RuntimeError) -> Bool {
        error.code != .store && error.code != .unavailable
    }

    /// Writes `CommandRejected` to the command's `replyStreamName`, when it has one.
    private func reply(to message: Message, error: RuntimeError) async throws {
        guard let replyStream = (try? message.parsedMetadata())?.replyStreamName else { return }
        let reply = NewMessage(
            id: UUID.derived(from: message.id, index: -1), type: "CommandRejected",
            data: ["code": .string(error.code.description), "message": .string(error.message)],
            metadata: Metadata(
                causationMessageStreamName: message.streamName.rawValue, causationMessagePosition: message.position,
                causationMessageGlobalPosition: message.globalPosition))
        do {
            try await store.write(reply, to: StreamName(unchecked: replyStream))
        } catch let error as MessageStoreError where error.code == .duplicateMessageID {
            return
        }
    }

    // MARK: Preparing commands

    private static func commandStream(for module: AggregateModule, id: String) throws(RuntimeError) -> StreamName {
        let stream = StreamName(category: module.schema.aggregate.category, id: id, types: ["command"])
        if id.isEmpty || StreamName.problem(in: stream.rawValue) != nil || id.contains("-") && id.hasSuffix("-") {
            throw RuntimeError(
                .invalidEntityID, "invalid entity id \"\(id)\": it must be non-empty, without whitespace or control characters",
                aggregate: module.name)
        }
        return stream
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
        let commandMetadata = request.metadata ?? Metadata()
        var eventMetadata = Metadata(
            causationMessageStreamName: commandStream.rawValue,
            causationMessagePosition: position >= 0 ? position : nil,
            causationMessageGlobalPosition: globalPosition >= 0 ? globalPosition : nil,
            correlationStreamName: commandMetadata.correlationStreamName,
            replyStreamName: commandMetadata.replyStreamName,
            schemaVersion: module.version.description)
        eventMetadata.properties["commandId"] = .string(commandID.lowercasedText)
        eventMetadata.properties["moduleName"] = .string(module.name)
        eventMetadata.properties["moduleVersion"] = .string(module.version.description)
        let context = GuestContext(
            id: commandID.lowercasedText, streamName: commandStream.rawValue, position: position,
            globalPosition: globalPosition, metadata: commandMetadataText ?? commandMetadata.jsonText,
            time: time.microsecondsSinceEpoch)
        return PreparedCommand(
            commandID: commandID, command: request.command, payloadText: request.payload.jsonText, context: context,
            eventMetadata: eventMetadata.jsonText)
    }
}
