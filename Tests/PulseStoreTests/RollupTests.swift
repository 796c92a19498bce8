import Foundation
import Logging
import PulseCore
@testable import PulseStore
import PulseTestSupport
import Testing

/// The per-minute rollups: kept by the writer, used by queries whose step is a
/// whole number of minutes, and never changing a result.
@Suite struct RollupTests {
    static let minute: Int64 = 60_000
    let selector = SeriesSelector(metric: "roll")

    func key(_ index: Int) -> SeriesKey { SeriesKey(metric: "roll", labels: ["s": "\(index)"]) }

    func query(
        _ store: SampleStore, from: Int64, to: Int64, step: Int64, _ aggregation: Aggregation, useRollups: Bool = true
    ) async throws -> [SeriesPoints] {
        try await store.downsample(selector, from: from, to: to, step: step, aggregation: aggregation, useRollups: useRollups)
    }

    /// Rows of `rollups_1m`, read from the file itself.
    func rollupRows(_ path: String) throws -> Int64 {
        let connection = try SQLiteConnection(path: path, readOnly: true)
        return try connection.scalarInt("SELECT count(*) FROM rollups_1m") ?? 0
    }

    // Samples every 20 s from 00:00:10: minute 0 holds 10 s, 30 s, 50 s; minute 1 holds 70 s, 90 s, 110 s; …
    // Values 1, 2, 3, … so that each aggregate is easy to work out.
    @Test func minuteBucketsByHandWithPartialEdges() async throws {
        let db = try TemporaryDatabase()
        let store = try SampleStore.open(db.configuration(), logger: .quiet)
        let samples = (0..<9).map { Sample(key: key(0), timestamp: 10_000 + Int64($0) * 20_000, value: Double($0 + 1)) }
        try await store.write(samples, durability: .committed)
        #expect(try rollupRows(db.path) == 3)

        // Whole range, step 1 min: minutes [1,2,3], [4,5,6], [7,8,9].
        let whole = try await query(store, from: 0, to: 179_999, step: Self.minute, .sum)
        #expect(whole.first?.points == [Point(0, 6), Point(60_000, 15), Point(120_000, 24)])
        // From 40 s to 100 s: minute 0 only from 50 s (3), minute 1 only up to 90 s (4, 5): both edges raw.
        let edges = try await query(store, from: 40_000, to: 100_000, step: Self.minute, .sum)
        #expect(edges.first?.points == [Point(0, 3), Point(60_000, 9)])
        // From 30 s to the end, step 2 min: bucket 0 = minute 0 from 30 s (2, 3) + minute 1 (4, 5, 6); bucket 2 min = 7, 8, 9.
        for (aggregation, expected) in [
            (Aggregation.sum, [20.0, 24]), (.count, [5, 3]), (.min, [2, 7]), (.max, [6, 9]), (.last, [6, 9]), (.avg, [4, 8]),
        ] as [(Aggregation, [Double])] {
            let result = try await query(store, from: 30_000, to: 10_000_000, step: 2 * Self.minute, aggregation)
            #expect(result.first?.points == [Point(0, expected[0]), Point(120_000, expected[1])], "\(aggregation)")
        }
        await store.close()
    }

    /// The core promise: however the samples arrived (in several transactions,
    /// out of order, overwriting each other, batches cutting minutes in two), a
    /// query served from rollups returns exactly the bits of the raw computation.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func rollupsGiveTheSameBitsAsRawRows(seed: UInt64) async throws {
        let db = try TemporaryDatabase()
        // Small transactions, so that minutes straddle commits.
        let store = try SampleStore.open(db.configuration(batchSize: 37), logger: .quiet)
        var random = SplitMix64(seed: seed)
        let start: Int64 = 1_700_000_000_000 - 1_700_000_000_000 % Self.minute
        let span: Int64 = 3 * 3_600_000
        var writes: [[Sample]] = []
        for series in 0..<3 {
            // Irregular timestamps, mostly ascending…
            var ts = start + Int64(random.next() % 5_000)
            var samples: [Sample] = []
            while ts < start + span {
                samples.append(Sample(key: key(series), timestamp: ts, value: random.value()))
                ts += 1 + Int64(random.next() % 9_000)
            }
            // …cut into writes of varied sizes.
            var index = 0
            while index < samples.count {
                let size = 1 + Int(random.next() % 60)
                writes.append(Array(samples[index..<min(index + size, samples.count)]))
                index += size
            }
        }
        // Late arrivals and overwrites of stored timestamps, some within one write.
        for _ in 0..<200 {
            let ts = start + Int64(random.next() % UInt64(span))
            let late = Sample(key: key(Int(random.next() % 3)), timestamp: ts, value: random.value())
            writes.insert([late, Sample(key: late.key, timestamp: ts, value: random.value())], at: Int(random.next() % UInt64(writes.count)))
        }
        for write in writes {
            try await store.write(write, durability: .buffered)
        }
        try await store.flush()

        // First while compaction runs beside the reads (minutes held in the head
        // are folded at read time), then with every row compacted and every minute rolled up.
        for round in 0..<2 {
            if round == 1 {
                await store.compactAll()
                #expect(store.statistics.rollupsWritten > 0, "the minutes were rolled up as their rows left the head")
            }
        for step in [1, 2, 5, 7, 60] as [Int64] {
            for _ in 0..<8 {
                let from = start - 100_000 + Int64(random.next() % UInt64(span))
                let to = from + Int64(random.next() % UInt64(span))
                for aggregation in Aggregation.allCases {
                    let rolled = try await query(store, from: from, to: to, step: step * Self.minute, aggregation)
                    let raw = try await query(store, from: from, to: to, step: step * Self.minute, aggregation, useRollups: false)
                    #expect(rolled.count == 3)
                    #expect(firstDifference(rolled, raw) == nil, "round \(round), step \(step) min, \(aggregation), \(from)…\(to)")
                }
            }
        }
        }
        // And the raw computation agrees with arithmetic done here on the raw points.
        let points = try await store.range(selector, from: start, to: start + span)
        let counted = try await query(store, from: start, to: start + span, step: 5 * Self.minute, .count)
        let summed = try await query(store, from: start, to: start + span, step: 5 * Self.minute, .sum)
        let latest = try await query(store, from: start, to: start + span, step: 5 * Self.minute, .last)
        for (index, series) in points.enumerated() {
            let buckets = Dictionary(grouping: series.points) { $0.timestamp - $0.timestamp % (5 * Self.minute) }
            #expect(counted[index].points == buckets.keys.sorted().map { Point($0, Double(buckets[$0]!.count)) })
            #expect(latest[index].points == buckets.keys.sorted().map { Point($0, buckets[$0]!.last!.value) })
            for point in summed[index].points {
                let expected = buckets[point.timestamp]!.reduce(0) { $0 + $1.value }
                #expect(abs(point.value - expected) <= 1e-9 * max(1, abs(expected)))
            }
        }
        await store.close()
    }

    /// The first point where two results differ in any bit ("" for a difference in shape).
    func firstDifference(_ left: [SeriesPoints], _ right: [SeriesPoints]) -> String? {
        guard left.count == right.count else { return "\(left.count) series vs \(right.count)" }
        for (a, b) in zip(left, right) {
            guard a.key == b.key, a.points.count == b.points.count else { return "\(a.key): \(a.points.count) points vs \(b.points.count)" }
            for (p, q) in zip(a.points, b.points) where p.timestamp != q.timestamp || p.value.bitPattern != q.value.bitPattern {
                return "\(a.key) at \(p.timestamp): \(p.value) vs \(q.timestamp): \(q.value)"
            }
        }
        return nil
    }

    /// Commits write no rollups: a minute is rolled up when its rows leave the
    /// head. Until then its queries fold it from the samples, and answer the same.
    @Test func minutesStillInTheHeadAreFoldedWhenRead() async throws {
        let db = try TemporaryDatabase()
        let policy = ChunkPolicy(maxChunkBytes: 1_000, maxChunkSamples: 4_096, rowsPerCompaction: 4_096, headSpan: 0, maxHeadWait: .seconds(3600))
        let store = try SampleStore.open(db.configuration(chunkPolicy: policy), logger: .quiet)
        let start: Int64 = 1_700_000_000_000 - 1_700_000_000_000 % Self.minute
        // 10 minutes of a sample every 7 s, then overwrites of two of them: fewer rows than a compaction takes.
        var samples = stride(from: start, to: start + 10 * Self.minute, by: 7_000).map { Sample(key: key(0), timestamp: $0, value: Double($0 % 1_000) / 8) }
        samples += [Sample(key: key(0), timestamp: start + 14_000, value: -5), Sample(key: key(0), timestamp: start + 7 * Self.minute + 7_000, value: 1e9)]
        try await store.write(samples, durability: .committed)
        #expect(try rollupRows(db.path) == 0)
        func answers() async throws -> [[SeriesPoints]] {
            var all: [[SeriesPoints]] = []
            for aggregation in Aggregation.allCases {
                all.append(try await query(store, from: start - 5_000, to: start + 11 * Self.minute, step: 2 * Self.minute, aggregation))
                let raw = try await query(store, from: start - 5_000, to: start + 11 * Self.minute, step: 2 * Self.minute, aggregation, useRollups: false)
                #expect(firstDifference(all.last!, raw) == nil, "\(aggregation)")
            }
            return all
        }
        let held = try await answers()
        let counts = try #require(held[Aggregation.allCases.firstIndex(of: .count)!].first)
        #expect(counts.points.map(\.value).reduce(0, +) == Double(samples.count - 2))
        await store.compactAll()
        #expect(try rollupRows(db.path) == 10)
        let rolled = try await answers()
        #expect(zip(held, rolled).allSatisfy { firstDifference($0, $1) == nil })
        await store.close()
    }

    /// With `heldInTheHead`, nothing is compacted before retention runs: it must
    /// roll up the head rows it removes, so that their minutes outlive them too.
    @Test(arguments: [false, true])
    func rawRetentionKeepsWholeMinutesAndTheRollupsOutliveThem(heldInTheHead: Bool) async throws {
        let db = try TemporaryDatabase()
        let day: Int64 = 86_400_000
        let now: Int64 = 1_700_000_000_000 + 30_000  // half a minute past a minute
        let held = ChunkPolicy(maxChunkBytes: 1_000, maxChunkSamples: 4_096, rowsPerCompaction: 1_000_000, headSpan: 0, maxHeadWait: .seconds(3600))
        let store = try SampleStore.open(
            db.configuration(retention: .seconds(86_400), rollupRetention: .seconds(3 * 86_400), retentionChunk: 7, chunkPolicy: heldInTheHead ? held : .eager),
            logger: .quiet
        )
        // One sample every 10 s over the last 4 days.
        let samples = stride(from: now - 4 * day, through: now, by: 10_000).map { Sample(key: key(0), timestamp: $0, value: 1) }
        try await store.write(samples, durability: .committed)
        if !heldInTheHead { await store.compactAll() }
        let rollupsBefore = try rollupRows(db.path)
        #expect(heldInTheHead == (rollupsBefore == 0))
        try await store.enforceRetention(now: now)

        // Raw: everything from the start of the minute holding now − 1 day.
        let rawCutoff = (now - day) - (now - day) % Self.minute
        let raw = try await store.range(selector, from: 0, to: now)
        #expect(raw.first?.points.first?.timestamp == rawCutoff)
        // Rollups: the last 3 days, with 6 samples in each whole minute, raw or not.
        let rollupCutoff = now - 3 * day
        let perMinute = try await query(store, from: 0, to: now, step: Self.minute, .count)
        let minutes = perMinute.first?.points ?? []
        #expect(minutes.first?.timestamp == rollupCutoff - rollupCutoff % Self.minute + Self.minute)
        #expect(minutes.dropLast().allSatisfy { $0.value == 6 }, "rolled-up minutes keep their counts")
        if !heldInTheHead {
            #expect(store.statistics.retentionRollupsDeleted == Int(rollupsBefore - (try rollupRows(db.path))))
        }
        #expect(store.statistics.retentionRollupsDeleted > 0)

        // A late sample in a minute whose raw rows are gone cannot change its rollup.
        let oldMinute = rawCutoff - 10 * Self.minute
        try await store.write([Sample(key: key(0), timestamp: oldMinute + 5_000, value: 100)], durability: .committed)
        let after = try await query(store, from: oldMinute, to: oldMinute + Self.minute - 1, step: Self.minute, .count)
        #expect(after.first?.points == [Point(oldMinute, 6)])
        await store.close()
    }

    /// The raw floor outlives the process: after a restart, a late sample in a
    /// minute whose raw rows retention deleted still cannot replace the
    /// minute's rollup with a fold of itself alone. Also when the store comes
    /// back with a longer retention, whose cutoff lies below the minutes already
    /// deleted, when the late sample was written before the restart and is
    /// still in the head when the first retention pass moves it, and when
    /// retention had deleted every sample (a store left idle).
    @Test(arguments: [
        (longerRetention: false, writtenBeforeRestart: false, everySampleDeleted: false),
        (true, false, false), (false, true, false), (false, false, true),
    ])
    func theRawFloorSurvivesARestart(longerRetention: Bool, writtenBeforeRestart: Bool, everySampleDeleted: Bool) async throws {
        let db = try TemporaryDatabase()
        let day: Int64 = 86_400_000
        let now: Int64 = 1_700_000_000_000 + 30_000
        // The late sample stays in the head until retention moves it.
        let held = ChunkPolicy(maxChunkBytes: 1_000, maxChunkSamples: 4_096, rowsPerCompaction: 1_000_000, headSpan: 0, maxHeadWait: .seconds(3600))
        let configuration = db.configuration(retention: .seconds(86_400), rollupRetention: .seconds(5 * 86_400), chunkPolicy: held)
        let rawCutoff = (now - day) - (now - day) % Self.minute
        let oldMinute = rawCutoff - 10 * Self.minute
        let late = Sample(key: key(0), timestamp: oldMinute + 5_000, value: 100)
        do {
            let store = try SampleStore.open(configuration, logger: .quiet)
            // One sample every 10 s over the last 2 days, compacted and rolled up, then raw retention at 1 day.
            let samples = stride(from: now - 2 * day, through: now, by: 10_000).map { Sample(key: key(0), timestamp: $0, value: 1) }
            try await store.write(samples, durability: .committed)
            await store.compactAll()
            try await store.enforceRetention(now: everySampleDeleted ? now + 2 * day : now)
            if everySampleDeleted { #expect(try await store.range(selector, from: 0, to: now).flatMap(\.points).isEmpty) }
            if writtenBeforeRestart { try await store.write([late], durability: .committed) }
            await store.close()
        }
        var reopened = configuration
        if longerRetention { reopened.retention = .seconds(3 * 86_400) }
        let store = try SampleStore.open(reopened, logger: .quiet)
        if writtenBeforeRestart {
            try await store.enforceRetention(now: now)
        } else {
            try await store.write([late], durability: .committed)
        }
        await store.compactAll()
        let after = try await query(store, from: oldMinute, to: oldMinute + Self.minute - 1, step: Self.minute, .count)
        #expect(after.first?.points == [Point(oldMinute, 6)], "the minute keeps the rollup of its 6 deleted samples")
        let unchanged = try await query(store, from: oldMinute - Self.minute, to: oldMinute - 1, step: Self.minute, .count)
        #expect(unchanged.first?.points == [Point(oldMinute - Self.minute, 6)])
        await store.close()
    }

    /// A database written before rollups existed gets them when opened.
    @Test func migrationRollsUpExistingRawRows() async throws {
        let db = try TemporaryDatabase()
        do {
            let connection = try SQLiteConnection(path: db.path, readOnly: false)
            try connection.execute(Schema.migrations[0].sql)
            try connection.execute("PRAGMA user_version = 1")
            try connection.execute(#"INSERT INTO series(id, metric, labels) VALUES (1, 'roll', '{"s":"0"}')"#)
            for second in 0..<300 {
                try connection.execute("INSERT INTO samples VALUES (1, \(second * 1000 + 500), \(Double(second) * 0.1))")
            }
        }
        let store = try SampleStore.open(db.configuration(), logger: .quiet)
        #expect(try rollupRows(db.path) == 5)
        for aggregation in Aggregation.allCases {
            let rolled = try await query(store, from: 0, to: 400_000, step: 2 * Self.minute, aggregation)
            let raw = try await query(store, from: 0, to: 400_000, step: 2 * Self.minute, aggregation, useRollups: false)
            #expect(firstDifference(rolled, raw) == nil)
            #expect(rolled.first?.points.count == 3)
        }
        await store.close()
    }
}
