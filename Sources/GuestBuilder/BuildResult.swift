import ESDL
import Foundation

/// What ``GuestBuilder/build(directory:)`` produced.
public struct BuildResult: Sendable {
    /// The module written, `<output>/<aggregate_in_snake_case>.wasm`.
    public var wasmURL: URL
    /// The module's size in bytes.
    public var sizeInBytes: Int
    /// How long the build took.
    public var duration: Duration
    /// The schema the module implements.
    public var schema: Schema
    /// The language of the sources.
    public var language: GuestLanguage
    /// The generated Swift file (Swift guests only), kept next to the module for reading.
    public var generatedSourceURL: URL?
    /// Compiler output of a successful build (warnings), empty when there was none.
    public var diagnostics: String
}
