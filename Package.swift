// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "Thalo",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "thalo", targets: ["thalo"]),
        .executable(name: "thalo-bench", targets: ["ThaloBenchmarks"]),
        .library(name: "ThaloRuntime", targets: ["ThaloRuntime"]),
        .library(name: "MessageStore", targets: ["MessageStore"]),
        .library(name: "MessageStoreSQLite", targets: ["MessageStoreSQLite"]),
        .library(name: "MessageDB", targets: ["MessageDB"]),
        .library(name: "ESDL", targets: ["ESDL"]),
        .library(name: "ESDLCodegen", targets: ["ESDLCodegen"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/swiftwasm/WasmKit", exact: "0.4.2"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.5.0"),
    ],
    targets: [
        .target(name: "JSON", swiftSettings: strict),
        .target(
            name: "MessageStore",
            dependencies: [
                "JSON",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .target(
            name: "MessageStoreSQLite",
            dependencies: ["MessageStore", "CSQLite", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "MessageDB",
            dependencies: [
                "MessageStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // Guest/ and Console/ embedded as string constants at build time (Plugins/EmbedFiles).
        .plugin(name: "EmbedFiles", capability: .buildTool()),
        .target(name: "AggregateContract", swiftSettings: strict),
        .target(name: "ESDL", dependencies: ["JSON"], swiftSettings: strict),
        .target(name: "ESDLCodegen", dependencies: ["ESDL", "JSON", "AggregateContract"], swiftSettings: strict),
        .target(
            name: "GuestBuilder",
            dependencies: [
                "ESDL", "ESDLCodegen", "AggregateContract", .product(name: "WasmParser", package: "WasmKit"),
                .product(name: "Subprocess", package: "swift-subprocess"), .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict,
            plugins: [.plugin(name: "EmbedFiles")]
        ),
        .target(
            name: "ThaloRuntime",
            dependencies: [
                "MessageStore", "ESDL", "JSON", "AggregateContract",
                .product(name: "WasmKit", package: "WasmKit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ThaloServer",
            dependencies: [
                "ThaloRuntime", "MessageStore", "ESDL", "JSON",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict,
            plugins: [.plugin(name: "EmbedFiles")]
        ),
        .target(
            name: "ThaloCLI",
            dependencies: [
                "ThaloServer", "ThaloRuntime", "ESDL", "ESDLCodegen", "GuestBuilder", "MessageDB", "MessageStoreSQLite", "JSON",
                "MessageStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "thalo",
            dependencies: ["ThaloCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "ThaloBenchmarks",
            dependencies: [
                "ThaloRuntime", "ThaloServer", "MessageStore", "MessageStoreSQLite", "MessageDB", "ESDL", "JSON",
                "GuestBuilder", "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Benchmarks/ThaloBenchmarks",
            swiftSettings: strict
        ),
        .target(
            name: "CountReadModel",
            dependencies: ["ThaloRuntime", "MessageStore", "JSON", .product(name: "GRDB", package: "GRDB.swift")],
            path: "Examples/count_read_model/Sources/CountReadModel",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "count-read-model",
            dependencies: [
                "CountReadModel", "ThaloRuntime", "MessageStore", "MessageStoreSQLite", "MessageDB",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Examples/count_read_model/Sources/count-read-model",
            swiftSettings: strict
        ),
        .target(
            name: "TestSupport",
            dependencies: [
                "MessageStore", "MessageDB", "MessageStoreSQLite", "ESDL", "ESDLCodegen", "GuestBuilder", "ThaloRuntime",
                .product(name: "Subprocess", package: "swift-subprocess"), .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Tests/Support",
            swiftSettings: strict
        ),
        .testTarget(name: "JSONTests", dependencies: ["JSON"], swiftSettings: strict),
        .testTarget(
            name: "MessageStoreTests",
            dependencies: ["MessageStore", "MessageStoreSQLite", "MessageDB", "TestSupport", "JSON"],
            swiftSettings: strict
        ),
        .testTarget(name: "ESDLTests", dependencies: ["ESDL", "JSON", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "ThaloCLITests",
            dependencies: ["ThaloCLI", "GuestBuilder", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ESDLCodegenTests",
            dependencies: ["ESDL", "ESDLCodegen", "GuestBuilder", "TestSupport", "JSON", "AggregateContract"],
            exclude: ["Golden"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ThaloRuntimeTests",
            dependencies: [
                "ThaloRuntime", "AggregateContract", "MessageStoreSQLite", "MessageDB", "TestSupport", "CountReadModel", "GuestBuilder",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ThaloServerTests",
            dependencies: [
                "ThaloServer", "TestSupport", "ThaloRuntime", "MessageStore", "JSON",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "TestSupport", "JSON", "MessageStore", "MessageDB", "GuestBuilder",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strict
        ),
    ]
)

// Fuzz targets (Fuzz/, docs/fuzzing.md): only with THALO_FUZZ=1, so the normal build never
// sees them. The code under test and the fuzz targets are compiled with `-sanitize=fuzzer`
// (coverage for libFuzzer) here, target by target, so that a build in .build reuses the
// dependencies the tests' build compiled (scripts/test); scripts/fuzz on its own builds into
// .build-fuzz and instruments every Swift module, WasmKit's parser included.
if Context.environment["THALO_FUZZ"] == "1" {
    let sanitizer: [SwiftSetting] = [.unsafeFlags(["-sanitize=fuzzer"])]
    let underTest: Set<String> = ["JSON", "ESDL", "AggregateContract", "GuestBuilder", "ThaloRuntime"]
    for target in package.targets where underTest.contains(target.name) {
        target.swiftSettings = (target.swiftSettings ?? []) + sanitizer
    }
    let fuzzSettings: [SwiftSetting] = strict + sanitizer + [.unsafeFlags(["-parse-as-library"])]
    let fuzzLinking: [LinkerSetting] = [.unsafeFlags(["-sanitize=fuzzer"])]
    func fuzzTarget(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
        .executableTarget(
            name: name, dependencies: dependencies + ["FuzzSupport"], path: "Fuzz/\(name)", swiftSettings: fuzzSettings,
            linkerSettings: fuzzLinking)
    }
    package.targets += [
        .target(name: "FuzzSupport", path: "Fuzz/FuzzSupport", swiftSettings: strict),
        fuzzTarget("FuzzJSON", ["JSON"]),
        fuzzTarget("FuzzESDL", ["ESDL"]),
        fuzzTarget("FuzzPayload", ["ESDL", "JSON"]),
        fuzzTarget("FuzzSchemaJSON", ["ESDL"]),
        fuzzTarget("FuzzWasm", ["ThaloRuntime", "GuestBuilder", "ESDL", .product(name: "WasmKit", package: "WasmKit")]),
    ]
}
