import ArgumentParser
import CSQLite
import Foundation
import PulseCore
import PulseStore

/// A 24-hour, 1-second series downsampled to 1,000 points: the store's query
/// path (over compressed chunks) beside SQL over plain rows (the layout of
/// schema 2, one row per sample) run directly through the C API.
struct DownsampleBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "downsample",
        abstract: "Median latency of a 24 h at 1 s range downsampled to 1,000 points, store vs. raw C API."
    )

    @Option(help: "Points in the source range (one per second).") var points = 86_400
    @Option(help: "Buckets to downsample to.") var buckets = 1_000
    @Option(help: "Queries per side; the median is reported.") var runs = 50
    @Option(help: "Aggregation: avg, min, max, sum, last, count.") var agg = "avg"

    func run() async throws {
        guard let aggregation = Aggregation(rawValue: agg) else { throw ValidationError("unknown --agg \(agg)") }
        let directory = try Measure.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/downsample.sqlite"
        let start: Int64 = 1_700_006_400_000  // a multiple of the step below, so buckets are whole
        let key = SeriesKey(metric: "bench_value", labels: ["host": "bench"])

        let store = try SampleStore.open(StoreConfiguration(path: path, batchSize: 10_000, maxPendingSamples: points))
        let samples = (0..<points).map { Sample(key: key, timestamp: start + Int64($0) * 1000, value: sin(Double($0) / 600)) }
        try await store.write(samples, durability: .committed)
        await store.compactAll()

        let from = start
        let to = start + Int64(points) * 1000 - 1
        let step = Int64(points) * 1000 / Int64(buckets)
        let selector = SeriesSelector(metric: "bench_value", matchers: [.equal("host", "bench")])
        print("downsample: \(points) rows → \(buckets) points (step \(step) ms, \(agg)), \(runs) queries each")

        let raw = RawSQLite(path: directory + "/rows.sqlite")
        raw.exec("""
            CREATE TABLE samples(series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL, PRIMARY KEY(series_id, ts)) WITHOUT ROWID
            """)
        raw.exec("BEGIN")
        let insert = raw.prepare("INSERT INTO samples VALUES (1, ?1, ?2)")
        for sample in samples {
            sqlite3_bind_int64(insert, 1, sample.timestamp)
            sqlite3_bind_double(insert, 2, sample.value)
            sqlite3_step(insert)
            sqlite3_reset(insert)
        }
        sqlite3_finalize(insert)
        raw.exec("COMMIT")
        let value = aggregation == .last ? "value, max(ts)" : aggregation == .count ? "count(*)" : "\(agg)(value)"
        let statement = raw.prepare("""
            SELECT (ts / ?4) * ?4 AS bucket, \(value) FROM samples
            WHERE series_id = ?1 AND ts >= ?2 AND ts <= ?3
            GROUP BY bucket ORDER BY bucket
            """)
        defer { sqlite3_finalize(statement) }

        let clock = ContinuousClock()
        var rawTimes: [Double] = []
        var storeTimes: [Double] = []
        var rawCount = 0
        var storeCount = 0
        for _ in 0..<runs {
            var started = clock.now
            var result: [Point] = []
            sqlite3_bind_int64(statement, 1, 1)
            sqlite3_bind_int64(statement, 2, from)
            sqlite3_bind_int64(statement, 3, to)
            sqlite3_bind_int64(statement, 4, step)
            while sqlite3_step(statement) == SQLITE_ROW {
                result.append(Point(sqlite3_column_int64(statement, 0), sqlite3_column_double(statement, 1)))
            }
            sqlite3_reset(statement)
            rawTimes.append((clock.now - started).seconds * 1000)
            rawCount = result.count

            started = clock.now
            let series = try await store.downsample(selector, from: from, to: to, step: step, aggregation: aggregation)
            storeTimes.append((clock.now - started).seconds * 1000)
            storeCount = series.first?.points.count ?? 0
        }
        await store.close()
        guard rawCount == buckets, storeCount == buckets else {
            throw ValidationError("expected \(buckets) points, got raw \(rawCount), store \(storeCount)")
        }
        let rawMedian = Measure.median(rawTimes)
        let storeMedian = Measure.median(storeTimes)
        print("median: rows through the C API \(Measure.format(rawMedian, 2)) ms, store \(Measure.format(storeMedian, 2)) ms, store/raw \(Measure.format(storeMedian / rawMedian, 3)) (target ≤ 1.30)")
    }
}
