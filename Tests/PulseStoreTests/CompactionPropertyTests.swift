import Foundation
import PulseCore
@testable import PulseStore
import PulseTestSupport
import Testing

/// Random writes (in order, out of order, duplicates, gaps, overwrites of
/// compacted windows) against a model of last-write-wins, with compaction
/// running under them: every raw read must give back the very bits written,
/// and every downsampled read what SQLite's aggregates over plain rows give.
@Suite struct CompactionPropertyTests {
    static let policies: [(String, ChunkPolicy)] = [
        ("eager", .eager),
        // Chunks cut by size: a few hundred bytes hold few noisy floats.
        ("by bytes", ChunkPolicy(maxChunkBytes: 300, maxChunkSamples: 1_000, rowsPerCompaction: 200, headSpan: 0, maxHeadWait: .zero)),
        // A transaction a series (the eager policy moves up to eight in one).
        ("one series a step", ChunkPolicy(maxChunkSamples: 16, rowsPerCompaction: 8, seriesPerCompaction: 1, headSpan: 0, maxHeadWait: .zero)),
    ]

    @Test(arguments: [1, 2, 3, 4], [0, 1, 2])
    func rawReadsGiveBackWhatWasWrittenBitForBit(seed: UInt64, policyIndex: Int) async throws {
        var random = SplitMix64(seed: seed)
        let db = try TemporaryDatabase()
        let store = try SampleStore.open(db.configuration(chunkPolicy: Self.policies[policyIndex].1), logger: .quiet)
        var model: [SeriesKey: [Int64: Double]] = [:]
        let kinds = ValueKind.allCases
        let keys = (0..<6).map { SeriesKey(metric: "prop", labels: ["series": "s\($0)", "kind": "\(kinds[$0 % kinds.count])"]) }
        let base: Int64 = 1_700_000_000_000

        for round in 0..<40 {
            var batch: [Sample] = []
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let index = Int.random(in: 0..<keys.count, using: &random)
                let key = keys[index]
                let kind = kinds[index % kinds.count]
                let timestamps = Self.timestamps(round: round, base: base, existing: model[key].map { Array($0.keys) } ?? [], using: &random)
                for timestamp in timestamps {
                    let value = kind.value(at: timestamp, using: &random)
                    batch.append(Sample(key: key, timestamp: timestamp, value: value))
                }
            }
            try await store.write(batch, durability: .committed)
            // The model applies the batch in order: the later of two writes wins.
            for sample in batch { model[sample.key, default: [:]][sample.timestamp] = sample.value }
            if Int.random(in: 0..<5, using: &random) == 0 { await store.compactAll() }
            if round % 10 == 9 { try await Self.check(store, model) }
        }
        await store.compactAll()
        #expect(store.statistics.rowsCompacted > 0)
        #expect(store.statistics.compactionErrors == 0)
        try await Self.check(store, model)

        // Everything is in chunks now: the head is empty.
        let connection = try SQLiteConnection(path: db.path, readOnly: true)
        #expect(try connection.scalarInt("SELECT count(*) FROM head") == 0)
        #expect(try connection.scalarInt("SELECT count(*) FROM chunks") ?? 0 > 0)
        try await Self.checkDownsamplingMatchesSQLiteOverRows(store, model, using: &random)
        await store.close()
    }

    /// Each series' whole range, a random sub-range and a limit, value by value as bit patterns.
    static func check(_ store: SampleStore, _ model: [SeriesKey: [Int64: Double]]) async throws {
        for (key, samples) in model {
            let expected = samples.sorted { $0.key < $1.key }
            let selector = SeriesSelector(metric: key.metric, matchers: key.labels.map { LabelMatcher($0.name, .equal, $0.value) })
            let all = try await store.range(selector, from: 0, to: Timestamp.latest, limit: nil).first?.points ?? []
            #expect(all.map(\.timestamp) == expected.map(\.key), "timestamps of \(key)")
            #expect(all.map(\.value.bitPattern) == expected.map(\.value.bitPattern), "values of \(key)")
            guard expected.count > 2 else { continue }
            let from = expected[expected.count / 3].key
            let to = expected[2 * expected.count / 3].key
            let middle = try await store.range(selector, from: from, to: to, limit: 5).first?.points ?? []
            let wanted = expected.filter { $0.key >= from && $0.key <= to }.prefix(5)
            #expect(middle.map(\.timestamp) == wanted.map(\.key))
            #expect(middle.map(\.value.bitPattern) == wanted.map(\.value.bitPattern))
        }
    }

    /// Downsampled reads against what the store answered when every sample was
    /// a row: SQLite's own aggregates over a plain table of the same samples
    /// (any step not a whole number of minutes), and per-minute rollups against
    /// a fold of the raw samples (whole minutes).
    static func checkDownsamplingMatchesSQLiteOverRows(
        _ store: SampleStore, _ model: [SeriesKey: [Int64: Double]], using random: inout SplitMix64
    ) async throws {
        let rows = try SQLiteConnection(path: ":memory:", readOnly: false)
        try rows.execute("CREATE TABLE samples(ts INTEGER NOT NULL PRIMARY KEY, value REAL NOT NULL)")
        for (key, samples) in model {
            try rows.execute("DELETE FROM samples")
            let insert = try rows.prepare("INSERT INTO samples VALUES (?1, ?2)")
            for (timestamp, value) in samples {
                insert.bind(timestamp, at: 1)
                insert.bind(value, at: 2)
                try insert.run()
            }
            let timestamps = samples.keys.sorted()
            let from = timestamps.first!
            let to = timestamps.last!
            for aggregation in Aggregation.allCases {
                let step = Int64.random(in: 1_000...200_000, using: &random)
                let adjusted = step % MinuteRollup.resolution == 0 ? step + 1 : step
                let reference = try referencePoints(rows, from: from, to: to, step: adjusted, aggregation)
                let selector = SeriesSelector(metric: key.metric, matchers: key.labels.map { LabelMatcher($0.name, .equal, $0.value) })
                let answered = try await store.downsample(selector, from: from, to: to, step: adjusted, aggregation: aggregation)
                    .first?.points ?? []
                #expect(answered.map(\.timestamp) == reference.map(\.timestamp), "\(key) \(aggregation) step \(adjusted)")
                // The rows' REAL column gives -0 back as 0 (and so a sum of it): zeros match whatever their sign.
                #expect(zip(answered, reference).allSatisfy { same($0.value, $1.value) }, "\(key) \(aggregation) step \(adjusted)")
                let byMinutes = try await store.downsample(selector, from: from, to: to, step: 120_000, aggregation: aggregation)
                    .first?.points ?? []
                let fromRaw = try await store.downsample(
                    selector, from: from, to: to, step: 120_000, aggregation: aggregation, useRollups: false
                ).first?.points ?? []
                // Rollups keep REAL columns, which give -0 back as 0 too.
                #expect(byMinutes.map(\.timestamp) == fromRaw.map(\.timestamp), "\(key) \(aggregation) by minutes")
                #expect(zip(byMinutes, fromRaw).allSatisfy { same($0.value, $1.value) }, "\(key) \(aggregation) by minutes")
            }
        }
    }

    /// The query the store ran over its rows before chunks.
    static func referencePoints(_ rows: SQLiteConnection, from: Int64, to: Int64, step: Int64, _ aggregation: Aggregation) throws -> [Point] {
        let value = switch aggregation {
        case .avg: "avg(value)"
        case .min: "min(value)"
        case .max: "max(value)"
        case .sum: "sum(value)"
        case .count: "count(*)"
        case .last: "value, max(ts)"
        }
        let statement = try rows.prepare("""
            SELECT (ts / ?3) * ?3 AS bucket, \(value) FROM samples WHERE ts >= ?1 AND ts <= ?2 GROUP BY bucket ORDER BY bucket
            """)
        statement.bind(from, at: 1)
        statement.bind(to, at: 2)
        statement.bind(step, at: 3)
        var points: [Point] = []
        while try statement.step() { points.append(Point(statement.int64(at: 0), statement.double(at: 1))) }
        return points
    }

    /// The timestamps of one write: a run after the series' last sample, a
    /// run in the past (into compacted windows), a re-write of samples it has,
    /// or a scatter with duplicates.
    static func timestamps(round: Int, base: Int64, existing: [Int64], using random: inout SplitMix64) -> [Int64] {
        let latest = existing.max() ?? base
        switch Int.random(in: 0..<4, using: &random) {
        case 0:
            let interval = [1_000, 10_000, 15_000, 997].randomElement(using: &random)!
            let jitter = Bool.random(using: &random)
            return (1...Int.random(in: 1...120, using: &random)).map {
                latest + Int64($0 * interval) + (jitter ? Int64.random(in: -3...3, using: &random) : 0)
            }
        case 1:
            let start = latest - Int64.random(in: 0...3_600_000, using: &random)
            return (0..<Int.random(in: 1...40, using: &random)).map { _ in max(base - 7_200_000, start + Int64.random(in: 0...600_000, using: &random)) }
        case 2 where !existing.isEmpty:
            return (0..<Int.random(in: 1...30, using: &random)).map { _ in existing.randomElement(using: &random)! }
        default:
            let one = latest + Int64.random(in: 1...100_000, using: &random)
            return [one, one, latest - 5, one + 1, one]
        }
    }
}

/// The kinds of values the store meets.
enum ValueKind: CaseIterable, CustomStringConvertible {
    case randomFloats, extremes, integerGauge, counter, constant

    var description: String {
        switch self {
        case .randomFloats: "random"
        case .extremes: "extremes"
        case .integerGauge: "integer"
        case .counter: "counter"
        case .constant: "constant"
        }
    }

    func value(at timestamp: Int64, using random: inout SplitMix64) -> Double {
        switch self {
        case .randomFloats:
            return Double.random(in: -1e6...1e6, using: &random)
        case .extremes:
            return [
                -0.0, 0.0, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, -.leastNormalMagnitude,
                1e300, -1e-300, Double(Int64.max), Double(Int64.min), 9_007_199_254_740_993, 0.1,
            ].randomElement(using: &random)!
        case .integerGauge:
            return Double(Int.random(in: -5_000...5_000, using: &random)) * 4096
        case .counter:
            return Double(timestamp / 1_000 * 3)
        case .constant:
            return 42
        }
    }
}

/// The same bits; or both zero, whatever their signs; or both NaN.
func same(_ a: Double, _ b: Double) -> Bool {
    a.bitPattern == b.bitPattern || (a == 0 && b == 0) || (a.isNaN && b.isNaN)
}
