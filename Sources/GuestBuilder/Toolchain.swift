import Foundation

/// The tools that build a guest: the Swift compiler with the Embedded Swift standard
/// library for `wasm32-unknown-none-wasm`, the toolchain's clang and `wasm-ld`, and for Rust
/// guests `rustc` with the standard library for `wasm32-unknown-unknown`.
public struct Toolchain: Sendable, Hashable {
    /// The toolchain's `bin` folder.
    public var binDirectory: URL

    /// The Rust compiler for Rust guests; `nil` when none was found.
    public var rustc: URL?

    /// Uses the tools in a `bin` folder (e.g. `/opt/swift/usr/bin`), and `rustc` for Rust
    /// guests (by default ``locateRustCompiler(environment:)``).
    public init(binDirectory: URL, rustc: URL? = Toolchain.locateRustCompiler()) {
        self.binDirectory = binDirectory
        self.rustc = rustc
    }

    /// The Rust compiler: `$RUSTC` when set, else Debian's `/usr/bin/rustc` (the packages
    /// `rustc` and `libstd-rust-dev-wasm32` give it the standard library for
    /// `wasm32-unknown-unknown`), else the first `rustc` on `PATH`.
    public static func locateRustCompiler(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        if let explicit = environment["RUSTC"], !explicit.isEmpty { return URL(fileURLWithPath: explicit) }
        let candidates = ["/usr/bin"] + (environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for directory in candidates {
            let candidate = URL(fileURLWithPath: directory).appendingPathComponent("rustc")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }

    /// The folder of `swiftc` on `PATH` (symlinks resolved), else `/opt/swift/usr/bin`.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) -> Toolchain {
        for directory in (environment["PATH"] ?? "").split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent("swiftc")
            if FileManager.default.isExecutableFile(atPath: candidate.path) {
                return Toolchain(
                    binDirectory: candidate.resolvingSymlinksInPath().deletingLastPathComponent(),
                    rustc: locateRustCompiler(environment: environment))
            }
        }
        return Toolchain(binDirectory: URL(fileURLWithPath: "/opt/swift/usr/bin"), rustc: locateRustCompiler(environment: environment))
    }

    /// `swiftc`.
    public var swiftc: URL { binDirectory.appendingPathComponent("swiftc") }
    /// The toolchain's clang (it targets wasm32).
    public var clang: URL { binDirectory.appendingPathComponent("clang") }
    /// `wasm-ld`.
    public var wasmLinker: URL { binDirectory.appendingPathComponent("wasm-ld") }
    /// The Embedded Swift library folder for wasm32 (`lib/swift/embedded/wasm32-unknown-none-wasm`).
    public var embeddedLibraryDirectory: URL {
        binDirectory.deletingLastPathComponent().appendingPathComponent("lib/swift/embedded/wasm32-unknown-none-wasm")
    }
    /// The Embedded Swift standard library module for wasm32.
    public var embeddedStandardLibrary: URL {
        binDirectory.deletingLastPathComponent()
            .appendingPathComponent("lib/swift/embedded/Swift.swiftmodule/wasm32-unknown-none-wasm.swiftmodule")
    }
    /// The Unicode tables that `String` comparison needs in Embedded Swift; linked when
    /// present (dead-stripped when unused).
    public var unicodeDataTables: URL { embeddedLibraryDirectory.appendingPathComponent("libswiftUnicodeDataTables.a") }

    /// Checks that the tools a build needs exist; throws an error naming the first missing one.
    public func validate(language: GuestLanguage) throws(GuestBuildError) {
        let fileManager = FileManager.default
        if language == .rust {
            guard let rustc, fileManager.isExecutableFile(atPath: rustc.path) else {
                throw GuestBuildError(
                    .toolchainIncomplete, "no Rust compiler found (looked at $RUSTC, /usr/bin/rustc and PATH)",
                    hint:
                        "install Debian's Rust and its wasm32 standard library: apt-get install rustc libstd-rust-dev-wasm32 (scripts/bootstrap does)"
                )
            }
            return
        }
        let hint =
            "install a Swift 6.x toolchain from swift.org (it includes clang, wasm-ld and Embedded Swift for wasm32), put its swiftc on PATH, or set GuestBuilder.Configuration.toolchain"
        if language == .swift {
            guard fileManager.isExecutableFile(atPath: swiftc.path) else {
                throw GuestBuildError(.toolchainIncomplete, "no Swift compiler at \(swiftc.path)", hint: hint)
            }
            guard fileManager.fileExists(atPath: embeddedStandardLibrary.path) else {
                throw GuestBuildError(
                    .toolchainIncomplete,
                    "the toolchain at \(binDirectory.deletingLastPathComponent().path) has no Embedded Swift standard library for wasm32 (looked for \(embeddedStandardLibrary.path))",
                    hint: hint)
            }
        }
        guard fileManager.isExecutableFile(atPath: clang.path) else {
            throw GuestBuildError(.toolchainIncomplete, "no clang at \(clang.path)", hint: hint)
        }
        guard fileManager.isExecutableFile(atPath: wasmLinker.path) else {
            throw GuestBuildError(.toolchainIncomplete, "no wasm-ld at \(wasmLinker.path)", hint: hint)
        }
    }
}

/// The language a guest folder is written in.
public enum GuestLanguage: String, Sendable, Hashable, CaseIterable {
    /// Swift sources, built with the guest SDK and generated code (Embedded Swift).
    case swift
    /// Rust sources, built with the Rust guest SDK and generated code (`rustc`, target
    /// `wasm32-unknown-unknown`).
    case rust
    /// C sources implementing docs/module-contract.md directly.
    case c
}
