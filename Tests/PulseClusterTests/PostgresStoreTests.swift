import Foundation
import Logging
import PulseCore
@testable import PulseCluster
@testable import PulseStore
import PulseTestSupport
import Testing

/// The cluster's store against a real PostgreSQL (the test command's throwaway
/// server), each test in a database of its own.
@Suite(.enabled(if: TestPostgres.isAvailable, "needs PULSEGATE_TEST_POSTGRES_URL (scripts/test starts a server)"))
struct PostgresStoreTests {
    static let logger: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }()

    /// Opens a store on a fresh database, runs `body`, closes and drops it.
    func withStore<T>(
        configure: (inout ClusterStoreConfiguration) -> Void = { _ in },
        _ body: (PostgresSampleStore, TestPostgres.Database) async throws -> T
    ) async throws -> T {
        let database = try await TestPostgres.createDatabase()
        var configuration = ClusterStoreConfiguration(postgres: try PostgresSettings(url: database.url), node: "test")
        configure(&configuration)
        let service = try await PostgresStoreService.open(configuration, logger: Self.logger)
        do {
            let result = try await body(service.store, database)
            await service.close()
            try await database.drop()
            return result
        } catch {
            await service.close()
            try? await database.drop()
            throw error
        }
    }

    @Test func hostileLabelsAndHugeValuesComeBackExactly() async throws {
        let hostile = [
            "'); DROP TABLE samples; --", "\"quoted\" and 'single'", "back\\slash\\N", "tab\there\nnewline\r", "percent % and _ underscore",
            "unicode ✓ 漢字 🙂", String(repeating: "x", count: 65_536), "$1 $$ dollar",
        ]
        try await withStore { store, _ in
            let samples = hostile.enumerated().map { index, value in
                Sample(metric: "hostile", labels: ["v": value, "i": "\(index)"], timestamp: 1_764_892_800_000 + Int64(index), value: Double(index) + 0.5)
            }
            try await store.write(samples, durability: .committed)
            let read = try await store.range(SeriesSelector(metric: "hostile"), from: 0, to: Timestamp.latest)
            #expect(read.count == hostile.count)
            for sample in samples {
                #expect(read.first { $0.key == sample.key }?.points == [Point(sample.timestamp, sample.value)], "\(sample.key.canonicalText.prefix(80))")
            }
            #expect(try await store.catalog(prefix: "hostile", limit: 100).count == hostile.count)
            // The metacharacters did nothing to the tables.
            #expect(try await store.catalog().count == hostile.count)
        }
    }

    /// The same random floats, out of order and overwritten across batches, in
    /// the SQLite store and the PostgreSQL store: every query answers the same
    /// bits, raw and downsampled, from rollups and from raw rows.
    @Test func answersExactlyAsTheSQLiteStoreDoes() async throws {
        var random = SplitMix64(seed: 2_026)
        let base: Int64 = 1_764_892_800_000 - 3_600_000  // the hour before a day boundary, so two partitions
        var batches: [[Sample]] = []
        for _ in 0..<12 {
            var batch: [Sample] = []
            for _ in 0..<400 {
                let series = Int(random.next() % 3)
                let ts = base + Int64(random.next() % 7_200_000)
                batch.append(Sample(metric: "same", labels: ["s": "\(series)"], timestamp: ts, value: random.value()))
            }
            batches.append(batch)
        }
        let directory = NSTemporaryDirectory() + "pulsegate-pg-contract-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let sqlite = try SampleStore.open(StoreConfiguration(path: directory + "/same.sqlite"), logger: Self.logger)
        try await withStore { postgres, _ in
            for batch in batches {
                try await sqlite.write(batch, durability: .committed)
                try await postgres.write(batch, durability: .committed)
            }
            let selector = SeriesSelector(metric: "same")
            let (from, to) = (base + 12_345, base + 7_200_000 - 6_789)
            #expect(try await postgres.range(selector, from: 0, to: Timestamp.latest) == sqlite.range(selector, from: 0, to: Timestamp.latest))
            #expect(try await postgres.range(selector, from: from, to: to, limit: 50) == sqlite.range(selector, from: from, to: to, limit: 50))
            for aggregation in Aggregation.allCases {
                for step: Int64 in [60_000, 300_000, 3_600_000, 120_000] {
                    let expected = try await sqlite.downsample(selector, from: from, to: to, step: step, aggregation: aggregation)
                    let actual = try await postgres.downsample(selector, from: from, to: to, step: step, aggregation: aggregation)
                    #expect(Self.bits(actual) == Self.bits(expected), "\(aggregation) \(step)")
                    // And the rollups equal the raw computation.
                    let raw = try await sqlite.downsample(selector, from: from, to: to, step: step, aggregation: aggregation, useRollups: false)
                    #expect(Self.bits(actual) == Self.bits(raw), "\(aggregation) \(step) raw")
                }
                for step: Int64 in [7_000, 15_000] where aggregation != .avg && aggregation != .sum {
                    // Sums in SQL depend on the order of addition, which neither database promises: compared below with integers.
                    let expected = try await sqlite.downsample(selector, from: from, to: to, step: step, aggregation: aggregation)
                    let actual = try await postgres.downsample(selector, from: from, to: to, step: step, aggregation: aggregation)
                    #expect(Self.bits(actual) == Self.bits(expected), "\(aggregation) \(step)")
                }
            }
            #expect(try await postgres.catalog(prefix: "sa", limit: 10) == sqlite.catalog(prefix: "sa", limit: 10))
        }
        await sqlite.close()
    }

    /// Two nodes write the same series at once, out of order and over each
    /// other's samples (their transactions overlap until the stream head): the
    /// rollups still equal the fold of the raw rows that won, to the bit. The
    /// raw rows are read back and folded by the SQLite store from scratch.
    @Test func concurrentWritersOnTwoNodesKeepTheRollupsEqualToTheRawRows() async throws {
        let base: Int64 = 1_764_892_800_000 - 3_600_000
        func batches(seed: UInt64) -> [[Sample]] {
            var random = SplitMix64(seed: seed)
            return (0..<12).map { _ in
                (0..<200).map { _ in
                    // Whole seconds over two hours: the nodes overwrite each other's samples.
                    Sample(metric: "raced", labels: ["s": "\(random.next() % 3)"], timestamp: base + Int64(random.next() % 7_200) * 1_000, value: random.value())
                }
            }
        }
        try await withStore { first, database in
            let second = try await PostgresStoreService.open(
                ClusterStoreConfiguration(postgres: try PostgresSettings(url: database.url), node: "second"), logger: Self.logger
            )
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (store, seed) in [(first, UInt64(1)), (second.store, UInt64(2))] {
                        group.addTask { for batch in batches(seed: seed) { try await store.write(batch, durability: .committed) } }
                    }
                    try await group.waitForAll()
                }
                let selector = SeriesSelector(metric: "raced")
                let stored = try await first.range(selector, from: 0, to: Timestamp.latest)
                #expect(stored.count == 3)
                let directory = NSTemporaryDirectory() + "pulsegate-pg-raced-\(UUID().uuidString)"
                defer { try? FileManager.default.removeItem(atPath: directory) }
                let sqlite = try SampleStore.open(StoreConfiguration(path: directory + "/raced.sqlite"), logger: Self.logger)
                try await sqlite.write(stored.flatMap { series in series.points.map { Sample(key: series.key, timestamp: $0.timestamp, value: $0.value) } }, durability: .committed)
                let (from, to) = (base + 12_345, base + 7_200_000 - 6_789)
                for aggregation in Aggregation.allCases {
                    for step: Int64 in [60_000, 300_000, 3_600_000] {
                        let raw = try await sqlite.downsample(selector, from: from, to: to, step: step, aggregation: aggregation, useRollups: false)
                        for node in [first, second.store] {
                            let actual = try await node.downsample(selector, from: from, to: to, step: step, aggregation: aggregation)
                            #expect(Self.bits(actual) == Self.bits(raw), "\(aggregation) \(step)")
                        }
                    }
                }
                await sqlite.close()
            } catch {
                Issue.record(error)
            }
            await second.close()
        }
    }

    static func bits(_ series: [SeriesPoints]) -> [[String]] {
        series.map { [$0.key.canonicalText] + $0.points.map { "\($0.timestamp):\($0.value.bitPattern)" } }
    }

    @Test func lastWriteWinsWithinABatchAndAcrossThem() async throws {
        try await withStore { store, _ in
            let key = SeriesKey(metric: "lww", labels: ["a": "b"])
            let ts: Int64 = 1_764_892_800_000
            try await store.write([Sample(key: key, timestamp: ts, value: 1), Sample(key: key, timestamp: ts, value: 2)], durability: .committed)
            #expect(try await store.range(SeriesSelector(metric: "lww"), from: 0, to: Timestamp.latest).first?.points == [Point(ts, 2)])
            try await store.write([Sample(key: key, timestamp: ts, value: 3)], durability: .committed)
            #expect(try await store.range(SeriesSelector(metric: "lww"), from: 0, to: Timestamp.latest).first?.points == [Point(ts, 3)])
            let minute = try await store.downsample(SeriesSelector(metric: "lww"), from: ts, to: ts + 59_999, step: 60_000, aggregation: .sum)
            #expect(minute.first?.points == [Point(ts, 3)], "the overwritten minute's rollup was recomputed")
        }
    }

    @Test func refusesADatabaseOfANewerSchemaNamingBothVersions() async throws {
        let database = try await TestPostgres.createDatabase()
        let outcome = await Result { try await refusesANewerSchema(database) }
        try await database.drop()
        try outcome.get()
    }

    func refusesANewerSchema(_ database: TestPostgres.Database) async throws {
        let configuration = ClusterStoreConfiguration(postgres: try PostgresSettings(url: database.url), node: "test")
        try await PostgresStoreService.open(configuration, logger: Self.logger).close()
        try await database.execute("UPDATE pulsegate_schema SET version = 99")
        do {
            let service = try await PostgresStoreService.open(configuration, logger: Self.logger)
            await service.close()
            Issue.record("a newer schema was opened")
        } catch let error as ClusterError {
            #expect(error == .schemaTooNew(found: 99, supported: PostgresSchema.currentVersion))
            #expect("\(error)".contains("schema version 99"))
        }
    }

    @Test func twoNodesInterningTheSameSeriesAgreeOnOne() async throws {
        try await withStore { first, database in
            let second = try await PostgresStoreService.open(ClusterStoreConfiguration(postgres: try PostgresSettings(url: database.url), node: "second"), logger: Self.logger)
            let ts: Int64 = 1_764_892_800_000
            async let a: Void = first.write((0..<50).map { Sample(metric: "both", labels: ["n": "\($0)"], timestamp: ts, value: 1) }, durability: .committed)
            async let b: Void = second.store.write((0..<50).map { Sample(metric: "both", labels: ["n": "\($0)"], timestamp: ts + 1, value: 2) }, durability: .committed)
            _ = try await (a, b)
            let read = try await second.store.range(SeriesSelector(metric: "both"), from: 0, to: Timestamp.latest)
            #expect(read.count == 50)
            #expect(read.allSatisfy { $0.points == [Point(ts, 1), Point(ts + 1, 2)] })
            await second.close()
        }
    }

    @Test func partitionsAreMadeAheadAndDroppedPastRetentionByOneNodeAtATime() async throws {
        try await withStore(configure: { $0.retention = .seconds(7 * 86_400) }) { store, database in
            let day = DayPartition.length
            let now: Int64 = 1_764_892_800_000 + 3_600_000
            let today = DayPartition(containing: now)
            var round = try await store.maintain(now: now)
            #expect(round.ran)
            // A backfill ten days back makes its own partition.
            try await store.write([Sample(metric: "old", timestamp: now - 10 * day, value: 1)], durability: .committed)
            try await store.write([Sample(metric: "old", timestamp: now, value: 2)], durability: .committed)
            round = try await store.maintain(now: now)
            #expect(round.dropped == [DayPartition(containing: now - 10 * day)])
            #expect(try await store.range(SeriesSelector(metric: "old"), from: 0, to: Timestamp.latest).first?.points == [Point(now, 2)])
            // Eight days on: today is past retention; the three days ahead of then exist.
            round = try await store.maintain(now: now + 8 * day)
            #expect(round.dropped.contains(today))
            #expect(round.created.allSatisfy { $0.start >= today.start + 8 * day })
            #expect(try await store.range(SeriesSelector(metric: "old"), from: 0, to: Timestamp.latest).flatMap(\.points).isEmpty)

            // While another session holds the maintenance lock, a round does nothing.
            let holder = Task {
                try await database.execute("SELECT pg_advisory_xact_lock(\(PartitionMaintenance.lock)), pg_sleep(3)")
            }
            // Until the holder has it (its connection may take a while on a loaded machine).
            let held = ContinuousClock.now + .seconds(10)
            // (pg_locks is the server's: this database's and this key's alone, other tests take advisory locks too.)
            while try await database.scalar("""
                SELECT count(*)::text FROM pg_locks WHERE locktype = 'advisory' AND granted
                AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                AND ((classid::bigint << 32) | objid::bigint) = \(PartitionMaintenance.lock)
                """) == "0",
                  ContinuousClock.now < held {
                try await Task.sleep(for: .milliseconds(50))
            }
            round = try await store.maintain(now: now + 30 * day)
            #expect(!round.ran)
            try await holder.value
            // Released with the holder's transaction; the server may take a moment to see its session end.
            let deadline = ContinuousClock.now + .seconds(10)
            var ran = false
            while !ran, ContinuousClock.now < deadline {
                ran = try await store.maintain(now: now + 30 * day).ran
                if !ran { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(ran)
        }
    }

    /// A write PostgreSQL refuses: a push waiting for it gets the error; the
    /// collector's buffered samples wait and are written once it works again.
    @Test func aFailedWriteFailsItsWaitersAndKeepsBufferedSamples() async throws {
        try await withStore(configure: { $0.batchAge = .milliseconds(100) }) { store, database in
            let ts: Int64 = 1_764_892_800_000
            try await store.write([Sample(metric: "kept", timestamp: ts, value: 1)], durability: .committed)
            try await database.execute("ALTER TABLE rollups_1m RENAME TO rollups_away")
            try await store.write([Sample(metric: "kept", timestamp: ts + 1, value: 2)], durability: .buffered)
            await #expect(throws: StoreUnavailable.self) {
                try await store.write([Sample(metric: "kept", timestamp: ts + 2, value: 3)], durability: .committed)
            }
            #expect(store.writeFailure != nil)
            try await database.execute("ALTER TABLE rollups_away RENAME TO rollups_1m")
            try await store.flush()
            #expect(store.writeFailure == nil)
            let points = try await store.range(SeriesSelector(metric: "kept"), from: 0, to: Timestamp.latest).first?.points
            #expect(points == [Point(ts, 1), Point(ts + 1, 2)], "the buffered sample was kept, the refused push was not written")
            #expect(store.statistics.samplesDropped == 0)
        }
    }

    /// Buffered samples wait out a failure for `maxPendingAge` at most: then they
    /// are given up (and counted), and what comes after is written as usual.
    @Test func bufferedSamplesAreGivenUpAfterTheAgeBound() async throws {
        try await withStore(configure: { $0.batchAge = .milliseconds(100); $0.maxPendingAge = .milliseconds(1_500) }) { store, database in
            let ts: Int64 = 1_764_892_800_000
            try await database.execute("ALTER TABLE rollups_1m RENAME TO rollups_away")
            try await store.write([Sample(metric: "aged", timestamp: ts, value: 1), Sample(metric: "aged", timestamp: ts + 1, value: 2)], durability: .buffered)
            // Retried every second and failing: after the bound, the two samples go.
            let given = await eventually(timeout: .seconds(10)) { store.statistics.samplesDropped == 2 }
            #expect(given, "dropped: \(store.statistics.samplesDropped)")
            #expect(store.statistics.pendingSamples == 0)
            try await database.execute("ALTER TABLE rollups_away RENAME TO rollups_1m")
            // Within a second of the last failure a push is refused at once (503, Retry-After: 1): retried.
            let written = await eventually(timeout: .seconds(5)) {
                (try? await store.write([Sample(metric: "aged", timestamp: ts + 2, value: 3)], durability: .committed)) != nil
            }
            #expect(written)
            let points = try await store.range(SeriesSelector(metric: "aged"), from: 0, to: Timestamp.latest).first?.points
            #expect(points == [Point(ts + 2, 3)])
            #expect(store.statistics.samplesDropped == 2)
        }
    }
}
