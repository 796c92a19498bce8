// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Pulsegate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "pulsegate", targets: ["pulsegate"]),
        .executable(name: "pulsegate-bench", targets: ["pulsegate-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // The system's libsqlite3 (Debian: libsqlite3-dev).
        .systemLibrary(
            name: "CSQLite",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // The system's zlib (Debian: zlib1g-dev), for gzip request bodies.
        .systemLibrary(
            name: "CZlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // The system's snappy (Debian: libsnappy-dev), for remote_write bodies.
        .systemLibrary(
            name: "CSnappy",
            providers: [.apt(["libsnappy-dev"])]
        ),
        // The model: samples, series keys, validation. No I/O, no dependencies.
        .target(name: "PulseCore"),
        // SQLite: schema, the batched writer, readers, range and downsampling queries, retention.
        .target(
            name: "PulseStore",
            dependencies: [
                "CSQLite",
                "CZlib",
                "PulseCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The live hub: subscribers, bounded outboxes, the replay ring, sequence numbers.
        .target(
            name: "PulseLive",
            dependencies: [
                "PulseCore",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Sample sources: the host collector (/proc).
        .target(
            name: "PulseCollect",
            dependencies: [
                "PulseCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Cluster mode: the PostgreSQL store (shared history) and the cross-node stream, behind PulseCore's protocols.
        .target(
            name: "PulseCluster",
            dependencies: [
                "PulseCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // HTTP: routes, configuration, the application builder.
        .target(
            name: "PulseServer",
            dependencies: [
                "CSnappy",
                "CZlib",
                "PulseCore",
                "PulseStore",
                "PulseCluster",
                "PulseLive",
                "PulseCollect",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // The OpenAPI document, compiled into the binary (no bundle to ship beside it).
            resources: [.embedInCode("Resources/openapi.json")]
        ),
        .executableTarget(
            name: "pulsegate",
            dependencies: [
                "PulseCluster",
                "PulseCore",
                "PulseLive",
                "PulseServer",
                "PulseStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Benchmarks: run with `scripts/bench` against a release build.
        .executableTarget(
            name: "pulsegate-bench",
            dependencies: [
                "CSQLite",
                "PulseCore",
                "PulseStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                "PulseTestSupport",
                // Only for the benchmark that measures the hand decoder against generated code.
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            // remote.proto: the source of Protobuf/remote.pb.swift, generated once and committed;
            // Fixtures/: recorded data the benchmarks read at run time.
            exclude: ["Protobuf/remote.proto", "Fixtures"]
        ),
        // The live benchmark's load client and reference broadcaster, in C on epoll (see their main.c).
        .executableTarget(name: "pulsegate-wsload", linkerSettings: [.linkedLibrary("z")]),
        .executableTarget(name: "pulsegate-wsref"),
        // The same reference on SwiftNIO channels: what NIO's write path costs, without Pulsegate.
        .executableTarget(
            name: "pulsegate-wsref-nio",
            dependencies: [.product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]
        ),
        // What several test targets and the benchmarks share (a seeded generator, an in-memory store, a test PostgreSQL, a script runner); no product code.
        .target(
            name: "PulseTestSupport",
            dependencies: ["CSnappy", "PulseCore", .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log")],
            path: "Tests/PulseTestSupport"
        ),
        .testTarget(name: "PulseCoreTests", dependencies: ["PulseCore", "PulseTestSupport"]),
        .testTarget(
            name: "PulseLiveTests",
            dependencies: [
                "PulseLive", "PulseCore", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "PulseStoreTests",
            dependencies: ["PulseStore", "PulseCore", "PulseTestSupport", "CSQLite", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "PulseClusterTests",
            dependencies: [
                "PulseCluster", "PulseCore", "PulseStore", "PulseTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(
            name: "PulseCollectTests",
            dependencies: ["PulseCollect", "PulseCore"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "PulseServerTests",
            dependencies: [
                "CZlib",
                "PulseServer",
                "PulseCluster",
                "PulseTestSupport",
                "PulseStore",
                "PulseCore",
                "PulseLive",
                "pulsegate",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
