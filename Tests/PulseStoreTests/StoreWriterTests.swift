import Foundation
import Logging
import CSQLite
import PulseCore
@testable import PulseStore
import Testing

@Suite struct StoreWriterTests {
    let key = SeriesKey(metric: "test_value", labels: ["host": "a"])
    let everything = SeriesSelector(metric: "test_value")

    func samples(_ range: Range<Int>, key: SeriesKey? = nil) -> [Sample] {
        range.map { Sample(key: key ?? self.key, timestamp: Int64($0) * 1000, value: Double($0)) }
    }

    func storedCount(_ store: SampleStore) async throws -> Int {
        try await store.range(everything, from: 0, to: Timestamp.latest).reduce(0) { $0 + $1.points.count }
    }

    @Test func commitsWhenTheBatchIsFull() async throws {
        let db = try TemporaryDatabase()
        let store = try SampleStore.open(db.configuration(batchSize: 10), logger: .quiet)
        try await store.write(samples(0..<9), durability: .buffered)
        #expect(store.statistics.batchesCommitted == 0, "9 of 10: no commit yet")
        #expect(try await storedCount(store) == 0)
        try await store.write(samples(9..<10), durability: .buffered)
        #expect(await eventually { store.statistics.rowsWritten == 10 })
        // The event after the nine (the tenth, and the commit it set off) found them
        // still queued: one commit of ten, not one of nine and another of one.
        #expect(store.statistics.batchesCommitted == 1)
        #expect(try await storedCount(store) == 10)
        await store.close()
    }

    @Test func commitsWhenTheOldestSampleIsOldEnough() async throws {
        let db = try TemporaryDatabase()
        let store = try SampleStore.open(db.configuration(batchSize: 1_000, batchAge: .milliseconds(800)), logger: .quiet)
        let written = ContinuousClock.now
        try await store.write(samples(0..<5), durability: .buffered)
        // Not committed yet, unless the batch age has passed (a stalled machine can take that long to get here).
        let committedAtOnce = store.statistics.batchesCommitted
        #expect(committedAtOnce == 0 || ContinuousClock.now - written >= .milliseconds(750))
        #expect(await eventually { store.statistics.batchesCommitted == 1 })
        #expect(ContinuousClock.now - written >= .milliseconds(750), "not before the batch age")
        #expect(try await storedCount(store) == 5)
        await store.close()
    }

    @Test func committedWritesReturnAfterTheCommitAndShareIt() async throws {
        let db = try TemporaryDatabase()
        let store = try SampleStore.open(db.configuration(batchSize: 1_000_000), logger: .quiet)
        // Another connection holds the write lock, so the writer's first commit
        // waits; every request that arrives meanwhile must share the next one.
        let blocker = try SQLiteConnection(path: db.path, readOnly: false)
        try blocker.execute("BEGIN IMMEDIATE")
        let writers = 40
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    let key = SeriesKey(metric: "test_value", labels: ["writer": "\(writer)"])
                    try await store.write(self.samples(0..<50, key: key), durability: .committed)
                    // Durable on return: a reader sees it at once.
                    let stored = try await store.range(SeriesSelector(metric: "test_value", matchers: [.equal("writer", "\(writer)")]), from: 0, to: Timestamp.latest)
                    #expect(stored.first?.points.count == 50)
                }
            }
            // All 40 are queued or in the blocked transaction: none has returned.
            #expect(await eventually {
                let stats = store.statistics
                return stats.pendingSamples + stats.committingSamples == writers * 50
            })
            #expect(store.statistics.batchesCommitted == 0)
            try blocker.execute("COMMIT")
            try await group.waitForAll()
        }
        let stats = store.statistics
        #expect(stats.rowsWritten == writers * 50)
        // The commit that was blocked, then one shared by all that queued behind it.
        #expect(stats.batchesCommitted <= 2, "\(stats.batchesCommitted) commits for \(writers) requests")
        await store.close()
    }

    @Test func aBacklogIsCommittedInBatchesWithoutSplittingAWrite() async throws {
        let db = try TemporaryDatabase()
        let store = try SampleStore.open(db.configuration(batchSize: 100), logger: .quiet)
        // 40 buffered writes of 30: transactions of at most 100, i.e. three writes each.
        for index in 0..<40 {
            try await store.write(samples(index * 30..<(index + 1) * 30), durability: .buffered)
        }
        // One write larger than a batch is committed whole, in a transaction of its own.
        try await store.write(samples(1200..<1450), durability: .committed)
        let stats = store.statistics
        #expect(stats.rowsWritten == 1450)
        #expect(stats.batchesCommitted >= 15, "\(stats.batchesCommitted) commits for 1,450 samples in batches of at most 100 (or one write)")
        #expect(try await storedCount(store) == 1450)
        await store.close()
    }

    @Test func lastWriteWinsWithinAndAcrossBatches() async throws {
        let db = try TemporaryDatabase()
        let store = try SampleStore.open(db.configuration(), logger: .quiet)
        try await store.write([
            Sample(key: key, timestamp: 1000, value: 1),
            Sample(key: key, timestamp: 1000, value: 2),
        ], durability: .committed)
        #expect(try await store.range(everything, from: 0, to: 5000).first?.points == [Point(1000, 2)])
        try await store.write([Sample(key: key, timestamp: 1000, value: 3)], durability: .committed)
        #expect(try await store.range(everything, from: 0, to: 5000).first?.points == [Point(1000, 3)])
        await store.close()
    }

    @Test func aGracefulCloseCommitsWhatIsPending() async throws {
        let db = try TemporaryDatabase()
        let store = try SampleStore.open(db.configuration(), logger: .quiet)
        try await store.write(samples(0..<123), durability: .buffered)
        #expect(store.statistics.batchesCommitted == 0)
        await store.close()

        let reopened = try SampleStore.open(db.configuration(), logger: .quiet)
        #expect(try await storedCount(reopened) == 123)
        await reopened.close()
    }

    @Test func reopeningKeepsEverythingCommittedAndSeriesIDs() async throws {
        let db = try TemporaryDatabase()
        let first = try SampleStore.open(db.configuration(), logger: .quiet)
        try await first.write(samples(0..<10), durability: .committed)
        await first.close()

        let second = try SampleStore.open(db.configuration(), logger: .quiet)
        try await second.write(samples(10..<20), durability: .committed)
        let series = try await second.range(everything, from: 0, to: Timestamp.latest)
        #expect(series.count == 1, "the same key maps to the same series after a restart")
        #expect(series.first?.points.count == 20)
        await second.close()
    }

    /// Checkpoints run on their own thread once the log passes its threshold,
    /// while readers keep reading; a close leaves an empty log behind.
    @Test func checkpointsRunBesideTheWriterAndCloseTruncatesTheLog() async throws {
        let db = try TemporaryDatabase()
        let store = try SampleStore.open(db.configuration(batchSize: 5_000), logger: .quiet)
        let keys = (0..<200).map { SeriesKey(metric: "test_value", labels: ["s": "\($0)"]) }
        for round in 0..<40 {
            let batch = keys.flatMap { key in (0..<50).map { Sample(key: key, timestamp: Int64(round * 50 + $0) * 1000, value: 1) } }
            try await store.write(batch, durability: .committed)
        }
        #expect(await eventually { store.statistics.checkpoints > 0 })
        #expect(try await storedCount(store) == 400_000)
        await store.close()
        // Empty, or gone when every connection had closed.
        let log = (try? FileManager.default.attributesOfItem(atPath: db.path + "-wal"))?[.size] as? Int ?? 0
        #expect(log == 0)
        let reopened = try SampleStore.open(db.configuration(), logger: .quiet)
        #expect(try await storedCount(reopened) == 400_000)
        await reopened.close()
    }

    /// A store dropped without `close()` still commits what it accepted and ends its
    /// threads (left waiting, they kept a test process from exiting).
    @Test func aStoreDroppedWithoutCloseCommitsAndStops() async throws {
        let db = try TemporaryDatabase()
        do {
            let store = try SampleStore.open(db.configuration(batchAge: .seconds(3600)), logger: .quiet)
            try await store.write(samples(0..<10), durability: .buffered)
        }
        let reopened = try SampleStore.open(db.configuration(), logger: .quiet)
        #expect(try await eventually { try await storedCount(reopened) == 10 })
        await reopened.close()
    }

    @Test func refusesADatabaseFromANewerSchema() async throws {
        let db = try TemporaryDatabase()
        let store = try SampleStore.open(db.configuration(), logger: .quiet)
        await store.close()
        let connection = try SQLiteConnection(path: db.path, readOnly: false)
        try connection.execute("PRAGMA user_version = 99")

        #expect {
            try SampleStore.open(db.configuration(), logger: .quiet)
        } throws: { error in
            guard case let StoreError.schemaTooNew(_, found, supported) = error else { return false }
            return found == 99 && supported == Schema.currentVersion && "\(error)".contains("newer Pulsegate")
        }
    }

    @Test func createsSchemaInWALMode() async throws {
        let db = try TemporaryDatabase()
        let store = try SampleStore.open(db.configuration(), logger: .quiet)
        let connection = try SQLiteConnection(path: db.path, readOnly: true)
        let mode = try connection.prepare("PRAGMA journal_mode")
        #expect(try mode.step() && mode.string(at: 0) == "wal")
        #expect(try connection.scalarInt("PRAGMA user_version") == Int64(Schema.currentVersion))
        await store.close()
    }

    @Test func createsTheDatabaseDirectory() async throws {
        let db = try TemporaryDatabase()
        var configuration = db.configuration()
        configuration.path = db.directory + "/nested/deeper/x.sqlite"
        #expect(!FileManager.default.fileExists(atPath: db.directory + "/nested"))
        let store = try SampleStore.open(configuration, logger: .quiet)
        try await store.write(samples(0..<1), durability: .committed)
        await store.close()
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: db.directory + "/nested/deeper", isDirectory: &isDirectory) && isDirectory.boolValue)
        #expect(FileManager.default.fileExists(atPath: configuration.path))
        // A real database with the sample in it, where it was asked to be.
        let reopened = try SampleStore.open(configuration, logger: .quiet)
        #expect(try await storedCount(reopened) == 1)
        await reopened.close()
    }

    @Test func refusesSamplesBeyondTheQueueBound() async throws {
        let db = try TemporaryDatabase()
        let store = try SampleStore.open(db.configuration(batchSize: 100, maxPendingSamples: 100), logger: .quiet)
        // One write larger than the queue is refused whole, nothing of it queued.
        await #expect(throws: StoreError.self) {
            try await store.write(samples(0..<101), durability: .buffered)
        }
        #expect(store.statistics.samplesRefused == 101)
        await store.close()
    }

    @Test func refusesWritesAfterClose() async throws {
        let db = try TemporaryDatabase()
        let store = try SampleStore.open(db.configuration(), logger: .quiet)
        await store.close()
        await #expect(throws: StoreError.self) {
            try await store.write(samples(0..<1), durability: .committed)
        }
    }

    @Test(arguments: [
        "'; DROP TABLE samples; --", "\" OR 1=1 --", "%_*?", "back\\slash", "new\nline", "ünïcødé ✓ 🚀", "\u{0}nul", "{\"a\":1}",
    ])
    func storesHostileLabelValuesVerbatim(_ value: String) async throws {
        let db = try TemporaryDatabase()
        let store = try SampleStore.open(db.configuration(), logger: .quiet)
        let hostile = SeriesKey(metric: "test_value", labels: ["v": value, "w": "x"])
        try await store.write([Sample(key: hostile, timestamp: 1000, value: 42)], durability: .committed)
        try await store.write([Sample(key: key, timestamp: 1000, value: 1)], durability: .committed)

        let found = try await store.range(SeriesSelector(metric: "test_value", matchers: [.equal("v", value)]), from: 0, to: 2000)
        #expect(found.map(\.key) == [hostile])
        #expect(found.first?.points == [Point(1000, 42)])
        #expect(try await store.series(matching: everything).count == 2, "no table was dropped, nothing else matched")
        await store.close()
    }
}
