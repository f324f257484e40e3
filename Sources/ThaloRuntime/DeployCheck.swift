import ESDL
import Foundation
import JSON
import MessageStore

/// How publishing checks a new module version against the stored history of its category
/// before it becomes the running one (see ``Runtime/publish(schema:wasm:expectedName:file:check:)``).
public struct DeployCheck: Sendable, Hashable {
    /// Replay only this many streams, spread evenly over the category; `nil` replays every
    /// stream.
    public var sample: Int?
    /// Also compare each replayed stream's state view under the running version and the new one.
    public var compare: Bool
    /// Publish even when the check finds problems (they are still reported).
    public var force: Bool

    /// Creates a check; the default replays every stream and refuses on any problem.
    public init(sample: Int? = nil, compare: Bool = false, force: Bool = false) {
        self.sample = sample
        self.compare = compare
        self.force = force
    }
}

/// What the deploy check found.
public struct DeployReport: Sendable, Hashable {
    /// A problem with one stream (or, without a stream, with the schema).
    public struct Finding: Sendable, Hashable {
        /// The stream, e.g. `bankAccount-123`.
        public var stream: String?
        /// The position of the event that failed, when one did.
        public var position: Int64?
        /// What happened.
        public var message: String
    }

    /// The version the new one was checked against (the running one), if any.
    public var previousVersion: SemanticVersion?
    /// Streams of the aggregate's category in the store.
    public var streams = 0
    /// Streams replayed through the new version.
    public var replayedStreams = 0
    /// Events applied in those replays.
    public var replayedEvents = 0
    /// Event types found in the store.
    public var storedEventTypes: [String] = []
    /// Schema changes that break stored events (``Schema/compatibilityProblems(replacing:storedEvents:)``).
    public var schemaProblems: [String] = []
    /// Streams whose events the new version could not apply.
    public var replayFailures: [Finding] = []
    /// With ``DeployCheck/compare``: streams whose state view differs between the versions.
    public var differences: [Finding] = []
    /// How long the check took.
    public var seconds = 0.0

    /// Whether the new version may run: no schema problem and no failed replay.
    public var passed: Bool { schemaProblems.isEmpty && replayFailures.isEmpty }
}

extension Runtime {
    /// Publishes a module version after checking it against the stored history of its
    /// category, then makes new commands run on it at once (live upgrade).
    ///
    /// The check, in a separate instance while the running version keeps serving:
    ///
    /// 1. **Schema diff.** The event types found in the store must still be readable under
    ///    the new schema (``Schema/compatibilityProblems(replacing:storedEvents:)``).
    /// 2. **Replay.** Every stream of the category (or ``DeployCheck/sample`` of them) is
    ///    replayed through the new module; an event it cannot apply is a failure naming the
    ///    stream and position.
    /// 3. With ``DeployCheck/compare``, each replayed stream's state view is compared with
    ///    the running version's.
    ///
    /// - Throws: ``RuntimeError`` `incompatibleSchema` or `replayFailed` (nothing stored,
    ///   the running version unchanged) unless ``DeployCheck/force``, and every error of
    ///   ``ModuleRegistry/publish(schema:wasm:expectedName:file:)``.
    @discardableResult
    public func publish(
        schema: String, wasm: [UInt8], expectedName: String? = nil, file: String = "schema.esdl", check: DeployCheck
    ) async throws(RuntimeError) -> (info: ModuleInfo, report: DeployReport) {
        let prepared = try await registry.prepare(schema: schema, wasm: wasm, expectedName: expectedName, file: file)
        return try await takeOver(by: prepared.module, check: check) { () async throws(RuntimeError) in
            try await registry.store(prepared)
        }
    }

    /// Checks `module` against the stored history and refuses it (unless forced); then runs
    /// `accept` (which stores a new version, unless it is stored already), records the version as the running one for
    /// every node, and switches to it. Publishing and activation both go through here.
    func takeOver(
        by module: AggregateModule, check: DeployCheck, accept: () async throws(RuntimeError) -> ModuleInfo
    ) async throws(RuntimeError) -> (info: ModuleInfo, report: DeployReport) {
        let report = try await deployReport(for: module, check: check)
        if !report.passed && !check.force { throw Self.refusal(report, module: module) }
        let info = try await accept()
        try await recordActivation(of: module.name, version: module.version)
        await activate(module, replacingNewer: true)
        return (info, report)
    }

    private static func refusal(_ report: DeployReport, module: AggregateModule) -> RuntimeError {
        var details = report.schemaProblems.map { PayloadError(.init(rawValue: "incompatible-schema"), path: "", message: $0) }
        details += report.replayFailures.map { failure in
            PayloadError(
                .init(rawValue: "replay-failed"),
                path: [failure.stream, failure.position.map { "position \($0)" }].compactMap { $0 }
                    .joined(separator: " at "), message: failure.message)
        }
        let code: RuntimeError.Code = report.schemaProblems.isEmpty ? .replayFailed : .incompatibleSchema
        let first = details.prefix(5).map(\.description).joined(separator: "; ")
        let more = details.count > 5 ? " (and \(details.count - 5) more)" : ""
        return RuntimeError(
            code,
            "\(module.label) cannot take over the stored history of \(module.schema.aggregate.category), so it was not "
                + "published and the running version is unchanged (force publishes anyway): \(first)\(more)",
            aggregate: module.name, moduleVersion: module.version.description, payloadErrors: details)
    }

    /// Runs the deploy check of `module` (see ``publish(schema:wasm:expectedName:file:check:)``).
    func deployReport(for module: AggregateModule, check: DeployCheck) async throws(RuntimeError) -> DeployReport {
        let clock = ContinuousClock()
        let start = clock.now
        var report = DeployReport()
        let category = module.schema.aggregate.category
        let (streams, types) = try await streamsAndTypes(in: category)
        report.streams = streams.count
        report.storedEventTypes = types.sorted()
        let running = try? await aggregate(module.name)
        var previous = running?.module
        if previous == nil { previous = try await registry.module(named: module.name) }
        report.previousVersion = previous?.version
        if let previous {
            report.schemaProblems = module.schema.compatibilityProblems(replacing: previous.schema, storedEvents: types)
        } else {
            report.schemaProblems = types.sorted().filter { module.schema.event(named: $0) == nil }
                .map { "event \($0) is in the store but the new schema does not define it" }
        }
        let candidate = AggregateRuntime(module: module, store: store, configuration: configuration, logger: logger)
        let compareWith = check.compare ? running : nil
        for stream in Self.sample(streams, count: check.sample) {
            let id = stream.id ?? ""
            switch try await candidate.viewWorker.replay(entityID: id, stream: stream) {
            case .replayed(let state, let events):
                report.replayedEvents += events
                if let running = compareWith, let before = try? await running.viewWorker.view(entityID: id, stream: stream, at: .latest),
                    before.state != state
                {
                    report.differences.append(
                        DeployReport.Finding(
                            stream: stream.rawValue, position: nil,
                            message: "state \(before.state?.jsonText ?? "none") under \(running.module.version), "
                                + "\(state?.jsonText ?? "none") under \(module.version)"))
                }
            case .failed(let position, let reason):
                report.replayFailures.append(
                    DeployReport.Finding(stream: stream.rawValue, position: position >= 0 ? position : nil, message: reason))
            }
            report.replayedStreams += 1
        }
        await candidate.shutdown()
        let elapsed = (clock.now - start).components
        report.seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        logger.info(
            "checked module against stored history",
            metadata: [
                "module.name": "\(module.name)", "module.version": "\(module.version)", "streams": "\(report.replayedStreams)",
                "events": "\(report.replayedEvents)", "passed": "\(report.passed)",
            ])
        return report
    }

    /// The entity streams of a category, in order of first appearance, and the event
    /// types they hold.
    private func streamsAndTypes(in category: String) async throws(RuntimeError) -> ([StreamName], Set<String>) {
        var streams: [StreamName] = []
        var seen: Set<String> = []
        var types: Set<String> = []
        var position: Int64 = 1
        let batchSize = Int64(configuration.replayBatchSize)
        do {
            while true {
                let batch = try await store.readCategory(
                    category, from: position, batchSize: batchSize, correlation: nil, consumerGroup: nil, condition: nil)
                for message in batch {
                    types.insert(message.type)
                    if seen.insert(message.streamName.rawValue).inserted { streams.append(message.streamName) }
                }
                guard let last = batch.last, batch.count == batchSize else { break }
                position = last.globalPosition + 1
            }
        } catch {
            throw RuntimeError.store(error, while: "reading the history of \(category)")
        }
        return (streams, types)
    }

    /// `count` elements spread evenly over `all` (all of them when `count` is nil or larger).
    static func sample<T>(_ all: [T], count: Int?) -> [T] {
        guard let count, count < all.count else { return all }
        guard count > 0 else { return [] }
        return (0..<count).map { all[$0 * all.count / count] }
    }
}
