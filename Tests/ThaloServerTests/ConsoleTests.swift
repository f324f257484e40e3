import Foundation
import HTTPTypes
import HummingbirdTesting
import TestSupport
import Testing

@testable import ThaloServer

/// The console's files as `thalo serve` serves them (the browser test in EndToEndTests
/// drives the console itself).
@Suite("Console files")
struct ConsoleTests {
    @Test("every file of Console/ is embedded, and served as it is in the repository")
    func embeddedFilesAreCurrent() async throws {
        let folder = ExampleModules.repositoryRoot.appendingPathComponent("Console")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { name in [".html", ".css", ".js"].contains { name.hasSuffix($0) } }
        #expect(Set(names) == Set(ConsoleFiles.byName.keys))
        try await withAPI { client, _ in
            for name in names {
                let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
                let served = try await client.execute(uri: "/console/\(name)", method: .get) { String(buffer: $0.body) }
                #expect(served == text, "Console/\(name) is not served as it is on disk")
            }
        }
    }

    @Test("/ leads to /console; the page, its modules and stylesheet come with their types and a same-origin policy")
    func served() async throws {
        try await withAPI(token: "secret") { client, _ in
            let home = try await client.execute(uri: "/", method: .get) { $0 }
            #expect(home.status == .found)
            #expect(home.headers[.location] == "/console")
            let page = try await client.execute(uri: "/console", method: .get) { $0 }
            #expect(page.status == .ok)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            #expect(page.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            let html = String(buffer: page.body)
            #expect(html.contains("<script type=\"module\" src=\"/console/console.js\"></script>"))
            // Every module the page and the modules import is served, as JavaScript.
            var modules = ["console.js"]
            var seen: Set<String> = []
            while let name = modules.popLast() {
                guard seen.insert(name).inserted else { continue }
                let file = try await client.execute(uri: "/console/\(name)", method: .get) { $0 }
                #expect(file.status == .ok, "\(name)")
                #expect(file.headers[.contentType] == "text/javascript; charset=utf-8")
                let text = String(buffer: file.body)
                for line in text.split(separator: "\n") where line.hasPrefix("import ") {
                    if let start = line.range(of: "\"./")?.upperBound, let end = line[start...].firstIndex(of: "\"") {
                        modules.append(String(line[start..<end]))
                    }
                }
            }
            #expect(seen == ["console.js", "api.js", "dom.js", "form.js"])
            let style = try await client.execute(uri: "/console/console.css", method: .get) { $0 }
            #expect(style.headers[.contentType] == "text/css; charset=utf-8")
            let (missing, body, _) = try await client.json("/console/nope.js")
            #expect(missing == 404)
            #expect(body["error"]?["message"] == "the console has no file nope.js")
        }
    }
}
