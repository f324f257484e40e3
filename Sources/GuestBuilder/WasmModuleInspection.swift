import WasmParser

/// Reads the import and export names of a core wasm module, enough to check a built
/// module against the contract without a wasm runtime. The sections are read by WasmKit's
/// `WasmParser`, with every proposal it knows enabled (an import of an exception tag, say,
/// is still an import to report).
public struct WasmModuleInspection: Sendable, Hashable {
    /// `module.name` of every import.
    public var imports: [String]
    /// Every export name.
    public var exports: [String]

    /// Parses the module's import and export sections; `nil` if the bytes are not a wasm
    /// module WasmParser can read.
    public init?(_ bytes: [UInt8]) {
        var parser = Parser(bytes: bytes, features: .all)
        var imports: [String] = []
        var exports: [String] = []
        do {
            while let payload = try parser.parseNext() {
                switch payload {
                case .importSection(let entries): imports += entries.map { "\($0.module).\($0.name)" }
                case .exportSection(let entries): exports += entries.map(\.name)
                default: break
                }
            }
        } catch {
            return nil
        }
        self.imports = imports
        self.exports = exports
    }
}
