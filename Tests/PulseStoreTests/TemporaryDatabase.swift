import Foundation
@testable import PulseStore

/// A fresh directory per test, removed at the end, holding a real SQLite file.
struct TemporaryDatabase: ~Copyable {
    let directory: String
    var path: String { directory + "/pulsegate.sqlite" }

    init() throws {
        directory = NSTemporaryDirectory() + "pulsegate-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func configuration(
        batchSize: Int = 10_000, batchAge: Duration = .seconds(3600), retention: Duration = .seconds(7 * 86_400),
        rollupRetention: Duration = .seconds(90 * 86_400), retentionChunk: Int = 5_000, maxPendingSamples: Int = 1_000_000,
        chunkPolicy: ChunkPolicy = .eager
    ) -> StoreConfiguration {
        var configuration = StoreConfiguration(
            path: path, batchSize: batchSize, batchAge: batchAge, retention: retention,
            rollupRetention: rollupRetention, retentionChunk: retentionChunk, maxPendingSamples: maxPendingSamples
        )
        configuration.chunkPolicy = chunkPolicy
        return configuration
    }
}

extension ChunkPolicy {
    /// Compaction after nearly every commit, into chunks of a few samples: the
    /// store's tests run with samples moving from head rows to chunks under them,
    /// so that every query meets rows, chunks and both at once.
    static let eager = ChunkPolicy(maxChunkSamples: 16, rowsPerCompaction: 8, headSpan: 0, maxHeadWait: .zero)
}

/// Polls `condition` until it holds or `timeout` passes; true when it held.
func eventually(timeout: Duration = .seconds(5), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}

import Logging

extension Logger {
    /// Warnings and errors only, so that test output shows what matters.
    static let quiet: Logger = {
        var logger = Logger(label: "pulsegate.test")
        logger.logLevel = .warning
        return logger
    }()
}
