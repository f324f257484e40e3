import ESDL
import Foundation
import JSON
import MessageStore

/// Which published version of an aggregate runs, recorded in the store so that every node,
/// and a restarted one, runs the same: stream `thaloModules:activation-{Aggregate}`, one
/// `Activated` message `{"version": "…"}` per publish or rollback. Without such a message
/// (modules published by an older Thalo) the newest version runs.
extension Runtime {
    static func activationStream(for aggregate: String) -> StreamName {
        StreamName(unchecked: "thaloModules:activation-\(aggregate)")
    }

    /// Records that `version` of `aggregate` is the one to run.
    func recordActivation(of aggregate: String, version: SemanticVersion) async throws(RuntimeError) {
        do {
            _ = try await store.append(
                [NewMessage(type: "Activated", data: JSONValue.object(["version": .string(version.description)]).jsonText)],
                to: Self.activationStream(for: aggregate), expectedVersion: nil)
        } catch {
            throw RuntimeError.store(error, while: "recording the running version of \(aggregate)")
        }
    }

    /// The version of `aggregate` to run: the last one recorded, else the newest published.
    func activeVersion(of aggregate: String, newest: SemanticVersion) async throws(RuntimeError) -> SemanticVersion {
        let last: Message?
        do {
            last = try await store.lastMessage(in: Self.activationStream(for: aggregate), type: "Activated")
        } catch {
            throw RuntimeError.store(error, while: "reading the running version of \(aggregate)")
        }
        guard let last, let text = (try? JSONValue(parsing: last.data))?["version"]?.stringValue,
            let version = SemanticVersion(text)
        else { return newest }
        return version
    }

    /// Makes a published version the running one, live, as publishing does (rollback or
    /// roll forward): it is first checked against the stored history like a new version
    /// (``publish(schema:wasm:expectedName:file:check:)``), then recorded for every node.
    ///
    /// - Throws: ``RuntimeError`` `unknownAggregate` when the version is not published,
    ///   `incompatibleSchema` / `replayFailed` unless ``DeployCheck/force``.
    @discardableResult
    public func activate(aggregate name: String, version: SemanticVersion, check: DeployCheck = DeployCheck()) async throws(RuntimeError)
        -> (info: ModuleInfo, report: DeployReport)
    {
        let versions = try await registry.list().filter { $0.name == name || $0.category == name }
        guard let info = versions.first(where: { $0.version == version }),
            let module = try await registry.module(named: info.name, version: version)
        else {
            let known = versions.map(\.version.description).joined(separator: ", ")
            throw RuntimeError(
                .unknownAggregate,
                "\(name) \(version) is not published" + (known.isEmpty ? "" : "; published versions: \(known)"),
                aggregate: name, moduleVersion: version.description)
        }
        let result = try await takeOver(by: module, check: check) { info }
        logger.info("activated module version", metadata: ["module.name": "\(module.name)", "module.version": "\(version)"])
        return result
    }
}
