import GuestBuilder
import Testing

/// Reading import and export names from hand-made modules, byte by byte.
@Suite("Wasm module inspection")
struct WasmModuleInspectionTests {
    /// `name` as a wasm name: its UTF-8 length, then the bytes.
    static func name(_ text: String) -> [UInt8] { [UInt8(text.utf8.count)] + Array(text.utf8) }

    /// A module with a type section (one `(i32) -> ()`) and the given import entries.
    static func module(imports: [[UInt8]], exports: [[UInt8]] = []) -> [UInt8] {
        var bytes: [UInt8] = [0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00]
        bytes += [0x01, 0x05, 0x01, 0x60, 0x01, 0x7F, 0x00]
        let importBody = [UInt8(imports.count)] + imports.flatMap { $0 }
        bytes += [0x02, UInt8(importBody.count)] + importBody
        if !exports.isEmpty {
            let exportBody = [UInt8(exports.count)] + exports.flatMap { $0 }
            bytes += [0x07, UInt8(exportBody.count)] + exportBody
        }
        return bytes
    }

    @Test("a tag import (exception handling) is skipped whole, so the imports after it read right")
    func tagImport() throws {
        // Found by the wasm fuzz target (Fuzz/corpus/wasm/regression-tag-import.wasm): the tag's
        // type index was read as the next import's module name, giving [env.tag, .env].
        let bytes = Self.module(imports: [
            Self.name("env") + Self.name("tag") + [0x04, 0x00, 0x00],
            Self.name("env") + Self.name("f") + [0x00, 0x00],
        ])
        let inspection = try #require(WasmModuleInspection(bytes))
        #expect(inspection.imports == ["env.tag", "env.f"])
    }

    @Test("imports of every kind and exports are read in order")
    func everyKind() throws {
        let bytes = Self.module(
            imports: [
                Self.name("env") + Self.name("f") + [0x00, 0x00],
                Self.name("env") + Self.name("table") + [0x01, 0x70, 0x01, 0x01, 0x10],
                Self.name("env") + Self.name("memory") + [0x02, 0x00, 0x01],
                Self.name("env") + Self.name("global") + [0x03, 0x7F, 0x00],
                Self.name("env") + Self.name("tag") + [0x04, 0x00, 0x00],
                Self.name("env") + Self.name("last") + [0x00, 0x00],
            ],
            exports: [Self.name("memory") + [0x02, 0x00], Self.name("f") + [0x00, 0x00]])
        let inspection = try #require(WasmModuleInspection(bytes))
        #expect(inspection.imports == ["env.f", "env.table", "env.memory", "env.global", "env.tag", "env.last"])
        #expect(inspection.exports == ["memory", "f"])
    }

    @Test(
        "bytes that are not a module give nil",
        arguments: [[], [0x00, 0x61, 0x73], [0x01, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00]] as [[UInt8]])
    func notAModule(bytes: [UInt8]) {
        #expect(WasmModuleInspection(bytes) == nil)
    }
}
