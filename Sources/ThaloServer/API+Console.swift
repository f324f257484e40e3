import Foundation
import HTTPTypes
import Hummingbird

/// The console: a web UI over this API (Console/ in the repository), its files embedded in
/// the binary at build time (the EmbedFiles plugin makes `ConsoleAssets`). Its pages are open; the API calls they make ask
/// for the token like any client's.
extension API {
    func registerConsole(on router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in
            var headers = HTTPFields()
            headers[.location] = "/console"
            return Response(status: .found, headers: headers)
        }
        router.get("/console") { _, _ in try ConsoleFiles.response("index.html") }
        router.get("/console/:file") { _, context in try ConsoleFiles.response(try Self.parameter("file", context)) }
    }
}

enum ConsoleFiles {
    /// The embedded files' texts (without their final newline), by name.
    static let byName = Dictionary(uniqueKeysWithValues: ConsoleAssets.files.map { ($0.path, $0.contents) })

    /// For working on the console: `THALO_CONSOLE_DIR=Console thalo serve` serves the files
    /// from that folder as they are on disk, instead of the embedded copies.
    static let folder: String? = ProcessInfo.processInfo.environment["THALO_CONSOLE_DIR"].flatMap { $0.isEmpty ? nil : $0 }

    /// One of the console's files, with its media type and headers that keep the page to
    /// this server's own scripts and styles.
    static func response(_ name: String) throws -> Response {
        // Only the embedded names: a path parameter never reaches the file system.
        guard var text = byName[name] else {
            throw APIError(.notFound, code: "notFound", message: "the console has no file \(name)")
        }
        if let folder, let onDisk = try? String(contentsOfFile: "\(folder)/\(name)", encoding: .utf8) {
            text = String(onDisk.dropLast(onDisk.hasSuffix("\n") ? 1 : 0))
        }
        var headers = HTTPFields()
        headers[.contentType] =
            switch name.split(separator: ".").last {
            case "js": "text/javascript; charset=utf-8"
            case "css": "text/css; charset=utf-8"
            default: "text/html; charset=utf-8"
            }
        headers[.cacheControl] = "no-cache"
        headers[.contentSecurityPolicy] =
            "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
        headers[.xContentTypeOptions] = "nosniff"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text + "\n")))
    }
}
