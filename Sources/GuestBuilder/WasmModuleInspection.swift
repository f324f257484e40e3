/// Reads the import and export names of a core wasm module, enough to check a built
/// module against the contract without a wasm runtime.
public struct WasmModuleInspection: Sendable, Hashable {
    /// `module.name` of every import.
    public var imports: [String]
    /// Every export name.
    public var exports: [String]

    /// Parses the module's import and export sections; `nil` if the bytes are not a wasm module.
    public init?(_ bytes: [UInt8]) {
        guard bytes.count >= 8, bytes[0..<4].elementsEqual([0x00, 0x61, 0x73, 0x6D]) else { return nil }
        var reader = Reader(bytes: bytes, offset: 8)
        var imports: [String] = []
        var exports: [String] = []
        while reader.offset < bytes.count {
            guard let id = reader.byte(), let size = reader.leb(), reader.offset + Int(size) <= bytes.count else { return nil }
            let end = reader.offset + Int(size)
            if id == 2 || id == 7 {
                guard let count = reader.leb() else { return nil }
                for _ in 0..<count {
                    if id == 2 {
                        guard let module = reader.name(), let name = reader.name(), let kind = reader.byte() else { return nil }
                        imports.append(module + "." + name)
                        // Skip the import's type: function index, table, memory or global type.
                        switch kind {
                        case 0: guard reader.leb() != nil else { return nil }
                        case 1:
                            _ = reader.byte()
                            guard reader.limits() else { return nil }
                        case 2: guard reader.limits() else { return nil }
                        case 3:
                            _ = reader.byte()
                            _ = reader.byte()
                        case 4:
                            // A tag (exception handling): an attribute byte, then a type index.
                            guard reader.byte() != nil, reader.leb() != nil else { return nil }
                        default: guard reader.leb() != nil else { return nil }
                        }
                    } else {
                        guard let name = reader.name(), reader.byte() != nil, reader.leb() != nil else { return nil }
                        exports.append(name)
                    }
                }
            }
            reader.offset = end
        }
        self.imports = imports
        self.exports = exports
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset: Int

        mutating func byte() -> UInt8? {
            guard offset < bytes.count else { return nil }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func leb() -> UInt32? {
            var result: UInt32 = 0
            var shift: UInt32 = 0
            while let byte = byte() {
                result |= UInt32(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return result }
                shift += 7
                if shift > 28 { return nil }
            }
            return nil
        }

        mutating func name() -> String? {
            guard let length = leb(), offset + Int(length) <= bytes.count else { return nil }
            defer { offset += Int(length) }
            return String(decoding: bytes[offset..<offset + Int(length)], as: UTF8.self)
        }

        mutating func limits() -> Bool {
            guard let flags = byte(), leb() != nil else { return false }
            if flags & 1 != 0 { return leb() != nil }
            return true
        }
    }
}
