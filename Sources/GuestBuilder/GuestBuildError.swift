/// Why a guest module could not be built: a code, the message to show, and what the user
/// can do next.
///
/// ```swift
/// do {
///     let result = try await GuestBuilder().build(directory: folder)
/// } catch let error as GuestBuildError where error.code == .compileFailed {
///     print(error.message)   // the compiler's diagnostics, naming the user's files
/// }
/// ```
public struct GuestBuildError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The folder does not exist or cannot be read.
        public static let unreadableDirectory = Code(rawValue: "unreadable-directory")
        /// The folder has no `.esdl` file.
        public static let missingSchema = Code(rawValue: "missing-schema")
        /// The folder has more than one `.esdl` file.
        public static let multipleSchemas = Code(rawValue: "multiple-schemas")
        /// The ESDL file has errors; ``GuestBuildError/message`` shows the diagnostics.
        public static let invalidSchema = Code(rawValue: "invalid-schema")
        /// No Swift (or C) sources next to the schema.
        public static let missingSources = Code(rawValue: "missing-sources")
        /// A tool is missing from the toolchain (swiftc, clang, wasm-ld, the Embedded
        /// Swift standard library for wasm32).
        public static let toolchainIncomplete = Code(rawValue: "toolchain-incomplete")
        /// The compiler rejected the sources; the message has its diagnostics.
        public static let compileFailed = Code(rawValue: "compile-failed")
        /// The linker failed; the message has its output.
        public static let linkFailed = Code(rawValue: "link-failed")
        /// The linked module declares imports, which the runtime refuses.
        public static let hasImports = Code(rawValue: "has-imports")
        /// Writing the output failed.
        public static let outputFailed = Code(rawValue: "output-failed")
    }

    /// What kind of failure this is.
    public var code: Code
    /// What went wrong, with tool output where there is some.
    public var message: String
    /// What to do about it, when there is something to say.
    public var hint: String?

    /// Creates an error.
    public init(_ code: Code, _ message: String, hint: String? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
    }

    /// The message, then the hint on its own line.
    public var description: String {
        guard let hint else { return message }
        return message + "\nhint: " + hint
    }
}
