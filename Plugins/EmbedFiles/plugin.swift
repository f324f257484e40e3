import Foundation
import PackagePlugin

/// Embeds a folder's files in a target as Swift string constants, at build time, so that
/// the binary carries them and the repository holds them once:
///
/// - GuestBuilder gets `GuestSDKSources` from `Guest/` (the guest SDKs that `thalo build`
///   writes next to a user's aggregate);
/// - ThaloServer gets `ConsoleAssets` from `Console/` (the web console's files).
///
/// The work is done by `scripts/embed-files`, run through `/bin/sh` (a compiled tool would
/// be built with the fuzz build's sanitizer flags).
@main
struct EmbedFiles: BuildToolPlugin {
    struct Embedding {
        var folder: String
        var subfolders: [String]
        var extensions: Set<String>
        var name: String
    }

    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let embedding: Embedding
        switch target.name {
        case "GuestBuilder":
            embedding = Embedding(
                folder: "Guest", subfolders: ["Sources", "shim", "rust"], extensions: ["swift", "c", "h", "rs"], name: "GuestSDKSources")
        case "ThaloServer":
            embedding = Embedding(folder: "Console", subfolders: [""], extensions: ["html", "css", "js"], name: "ConsoleAssets")
        default:
            return []
        }
        let package = context.package.directoryURL
        let root = package.appending(path: embedding.folder)
        var paths: [String] = []
        for subfolder in embedding.subfolders {
            let folder = subfolder.isEmpty ? root : root.appending(path: subfolder)
            for name in try FileManager.default.contentsOfDirectory(atPath: folder.path)
            where embedding.extensions.contains((name as NSString).pathExtension) {
                paths.append(subfolder.isEmpty ? name : "\(subfolder)/\(name)")
            }
        }
        paths.sort()
        let output = context.pluginWorkDirectoryURL.appending(path: "\(embedding.name).swift")
        let script = package.appending(path: "scripts/embed-files")
        return [
            .buildCommand(
                displayName: "Embedding the \(embedding.folder) folder as \(embedding.name)",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: [script.path, output.path, embedding.name, root.path] + paths,
                inputFiles: [script] + paths.map { root.appending(path: $0) },
                outputFiles: [output])
        ]
    }
}
