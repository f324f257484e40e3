import ESDL
import Logging
import MessageStore
import Synchronization

/// A published module version, as listed by the registry.
public struct ModuleInfo: Sendable, Hashable {
    /// The aggregate's name, e.g. `BankAccount`.
    public var name: String
    public var version: SemanticVersion
    public var publishedAt: Timestamp
    /// The wasm binary's size in bytes.
    public var size: Int
    /// The message-store category of the aggregate's streams, e.g. `bankAccount`.
    public var category: String { Aggregate(name: name, commands: []).category }
}

/// Every published version of every module, stored next to the messages.
///
/// Publishing checks, before storing anything: that the ESDL is valid, that its version
/// is newer than the newest published one of that aggregate (or is that one sent again with
/// the same schema text and module bytes: a retry, not stored again), that no other aggregate owns
/// its category, that the wasm module loads, imports nothing and exports the contract,
/// that it handles every command and applies every event of the schema, and (when given)
/// that the aggregate name matches. A rejected publish stores nothing and says why. Loaded modules are cached.
public final class ModuleRegistry: Sendable {
    private let storage: any ModuleStorage
    private let limits: ModuleLimits
    private let logger: Logger
    private let cache = Mutex<[String: AggregateModule]>([:])

    public init(storage: any ModuleStorage, limits: ModuleLimits = ModuleLimits(), logger: Logger = Logger(label: "thalo.registry")) {
        self.storage = storage
        self.limits = limits
        self.logger = logger
    }

    /// Checks and stores a module version. The newest version sent again with the same
    /// schema text and module bytes is a retry: it passes without being stored twice.
    ///
    /// - Parameters:
    ///   - schemaText: the ESDL source; its `version` is the module's version.
    ///   - wasm: the compiled module.
    ///   - expectedName: when given, the schema's aggregate must have this name.
    ///   - file: the ESDL file's name, for diagnostics.
    /// - Throws: ``RuntimeError`` with code `invalidModule` (with the ESDL diagnostics
    ///   rendered in the message) or `versionExists` (not newer than the newest version,
    ///   and not a retry of it).
    @discardableResult
    public func publish(schema schemaText: String, wasm: [UInt8], expectedName: String? = nil, file: String = "schema.esdl")
        async throws(RuntimeError) -> ModuleInfo
    {
        try await store(try await prepare(schema: schemaText, wasm: wasm, expectedName: expectedName, file: file))
    }

    /// A module version that passed ``prepare(schema:wasm:expectedName:file:)``, not stored yet.
    struct PreparedModule: Sendable {
        var module: AggregateModule
        var stored: StoredModule
        /// The newest version, stored already with this very schema and module.
        var alreadyStored = false
    }

    /// Every check of ``publish(schema:wasm:expectedName:file:)``, without storing anything.
    func prepare(schema schemaText: String, wasm: [UInt8], expectedName: String?, file: String) async throws(RuntimeError) -> PreparedModule
    {
        let schema: Schema
        do {
            schema = try Schema.parse(schemaText, file: file)
        } catch {
            throw RuntimeError(.invalidModule, "the schema is not valid ESDL:\n\(error.description)")
        }
        let name = schema.aggregate.name
        if let expectedName, expectedName != name {
            throw RuntimeError(
                .invalidModule, "the schema defines aggregate \(name), but the module is published as \(expectedName)",
                aggregate: expectedName)
        }
        let all = try await list()
        let category = schema.aggregate.category
        if let owner = all.first(where: { $0.name != name && $0.category == category }) {
            throw RuntimeError(
                .categoryTaken,
                "aggregate \(name) would write to the streams of category \(category), which belong to aggregate \(owner.name); "
                    + "rename the aggregate",
                aggregate: name, moduleVersion: schema.version.description)
        }
        let existing = all.filter { $0.name == name }
        if let newest = existing.map(\.version).max(), schema.version <= newest {
            // The same module sent again (a retry after an answer that never came, or a 503
            // whose insert committed later): publishing it again goes on without storing it.
            if schema.version == newest, let stored = try await storedCopy(name, newest, schema: schemaText, wasm: wasm),
                let module = try await module(named: name, version: newest)
            {
                return PreparedModule(module: module, stored: stored, alreadyStored: true)
            }
            throw RuntimeError(
                .versionExists,
                "\(name) \(schema.version) is not newer than the latest published version \(newest); raise `version` in the ESDL file",
                aggregate: name, moduleVersion: schema.version.description)
        }
        let limits = self.limits
        let module = try await offCooperativePool("thalo-publish") { () throws(RuntimeError) -> AggregateModule in
            let module = try AggregateModule(name: name, version: schema.version, schema: schema, bytes: wasm, limits: limits)
            try module.checkImplementsSchema()
            return module
        }
        let stored = StoredModule(
            name: name, version: schema.version.description, schema: schemaText, wasm: wasm, publishedAt: .now())
        return PreparedModule(module: module, stored: stored)
    }

    /// Stores a prepared module version (unless it is a retry of the one stored).
    func store(_ prepared: PreparedModule) async throws(RuntimeError) -> ModuleInfo {
        let (module, name, version) = (prepared.module, prepared.module.name, prepared.module.version)
        var stored = prepared.stored
        if !prepared.alreadyStored {
            do {
                try await storage.saveModule(stored)
            } catch let error as MessageStoreError where error.code == .duplicateMessageID {
                // A retry that raced the insert it repeats (still committing when it looked)
                // finds the very same module stored: that is its success too.
                guard let found = try? await storedCopy(name, version, schema: stored.schema, wasm: stored.wasm) else {
                    throw RuntimeError(
                        .versionExists, "\(name) \(version) is already published", aggregate: name, moduleVersion: version.description)
                }
                stored = found
            } catch {
                throw RuntimeError.store(error, while: "publishing \(name) \(version)")
            }
        }
        cache.withLock { $0[Self.key(name, version)] = module }
        logger.info(
            "published module", metadata: ["module.name": "\(name)", "module.version": "\(version)", "module.size": "\(stored.wasm.count)"])
        return ModuleInfo(name: name, version: version, publishedAt: stored.publishedAt, size: stored.wasm.count)
    }

    /// Every published version, ordered by aggregate name and version.
    public func list() async throws(RuntimeError) -> [ModuleInfo] {
        let summaries: [StoredModuleSummary]
        do {
            summaries = try await storage.moduleSummaries()
        } catch {
            throw RuntimeError.store(error, while: "listing modules")
        }
        return summaries.compactMap { summary in
            SemanticVersion(summary.version).map {
                ModuleInfo(name: summary.name, version: $0, publishedAt: summary.publishedAt, size: summary.size)
            }
        }.sorted { ($0.name, $0.version) < ($1.name, $1.version) }
    }

    /// The published versions of one aggregate, oldest first.
    public func versions(of name: String) async throws(RuntimeError) -> [ModuleInfo] {
        try await list().filter { $0.name == name }
    }

    /// The newest version of each aggregate.
    public func latestVersions() async throws(RuntimeError) -> [String: SemanticVersion] {
        var latest: [String: SemanticVersion] = [:]
        for info in try await list() where latest[info.name].map({ info.version > $0 }) ?? true {
            latest[info.name] = info.version
        }
        return latest
    }

    /// The newest version of `name` that satisfies `requirement`, loaded and checked.
    public func module(named name: String, matching requirement: VersionRequirement = .any) async throws(RuntimeError) -> AggregateModule? {
        let candidates = try await versions(of: name).map(\.version)
        guard let version = requirement.highestMatch(in: candidates) else { return nil }
        return try await module(named: name, version: version)
    }

    /// One version as stored, or nil.
    private func loadStored(_ name: String, _ version: SemanticVersion) async throws(RuntimeError) -> StoredModule? {
        do {
            return try await storage.loadModule(name: name, version: version.description)
        } catch {
            throw RuntimeError.store(error, while: "loading \(name) \(version)")
        }
    }

    /// The stored version when it is this very schema text and module, else nil.
    private func storedCopy(_ name: String, _ version: SemanticVersion, schema: String, wasm: [UInt8]) async throws(RuntimeError)
        -> StoredModule?
    {
        guard let stored = try await loadStored(name, version), stored.schema == schema, stored.wasm == wasm else { return nil }
        return stored
    }

    /// One version, loaded and checked.
    public func module(named name: String, version: SemanticVersion) async throws(RuntimeError) -> AggregateModule? {
        if let cached = cache.withLock({ $0[Self.key(name, version)] }) { return cached }
        guard let stored = try await loadStored(name, version) else { return nil }
        let schema: Schema
        do {
            schema = try Schema.parse(stored.schema, file: "\(name)-\(version).esdl")
        } catch {
            throw RuntimeError(.invalidModule, "the stored schema of \(name) \(version) does not parse: \(error)", aggregate: name)
        }
        let limits = self.limits
        let module = try await offCooperativePool("thalo-load") { () throws(RuntimeError) -> AggregateModule in
            try AggregateModule(name: name, version: version, schema: schema, bytes: stored.wasm, limits: limits)
        }
        cache.withLock { $0[Self.key(name, version)] = module }
        return module
    }

    private static func key(_ name: String, _ version: SemanticVersion) -> String { "\(name)@\(version)" }
}
