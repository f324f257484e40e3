import Foundation
import Testing

@testable import GuestBuilder

@Suite("Embedded guest SDK")
struct GuestSDKSourcesTests {
    @Test("GuestSDKSources.swift matches Guest/ (the EmbedFiles plugin embeds it at build time)")
    func embeddedCopyIsUpToDate() throws {
        let guest = Fixtures.repositoryRoot.appendingPathComponent("Guest")
        var onDisk: [String: String] = [:]
        for folder in ["Sources", "shim", "rust"] {
            for name in try FileManager.default.contentsOfDirectory(atPath: guest.appendingPathComponent(folder).path)
            where name.hasSuffix(".swift") || name.hasSuffix(".c") || name.hasSuffix(".h") || name.hasSuffix(".rs") {
                let path = folder + "/" + name
                onDisk[path] = try String(contentsOf: guest.appendingPathComponent(path), encoding: .utf8)
            }
        }
        let embedded = Dictionary(uniqueKeysWithValues: GuestSDKSources.files.map { ($0.path, $0.contents + "\n") })
        #expect(Set(embedded.keys) == Set(onDisk.keys), "the embedded files are not those of Guest/")
        for (path, contents) in onDisk {
            #expect(embedded[path] == contents, "\(path) differs from its embedded copy")
        }
        #expect(GuestSDKSources.files.map(\.path) == GuestSDKSources.files.map(\.path).sorted())
    }
}
