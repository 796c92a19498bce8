import ArgumentParser
import CSQLite
import Foundation
import Logging
import PulseCore
import PulseStore

/// The batched writer against a raw C-API loop over the same schema and batch size.
struct StoreWriteBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store-write",
        abstract: "Rows/s of the store's batched writer beside a raw SQLite loop (same schema, same batch size)."
    )

    @Option(help: "Series written.") var series = 100
    @Option(help: "Timestamps per series (1 s apart, written in time order like a collector).") var timestamps = 50_000
    @Option(help: "Rows per transaction, for both.") var batchSize = 10_000
    @Option(help: "Runs of each; the median is reported.") var runs = 3

    func run() async throws {
        let rows = series * timestamps
        print("store-write: \(series) series × \(timestamps) timestamps = \(rows) rows, \(batchSize) rows per transaction, \(runs) runs each")
        var rawRates: [Double] = []
        var storeRates: [Double] = []
        for run in 1...runs {
            // Alternate which goes first, so that neither always meets a warmer disk cache.
            let raw: Double
            let store: Double
            if run % 2 == 1 {
                raw = try rawLoop()
                store = try await storeLoop()
            } else {
                store = try await storeLoop()
                raw = try rawLoop()
            }
            rawRates.append(raw)
            storeRates.append(store)
            print("  run \(run): raw \(Measure.format(raw)) rows/s, store \(Measure.format(store)) rows/s, ratio \(Measure.format(store / raw, 3))")
        }
        let raw = Measure.median(rawRates)
        let store = Measure.median(storeRates)
        print("median: raw loop \(Measure.format(raw)) rows/s, store \(Measure.format(store)) rows/s, store/raw \(Measure.format(store / raw, 3)) (target ≥ 0.80)")
    }

    private var keys: [SeriesKey] {
        (0..<series).map { SeriesKey(metric: "bench_value", labels: ["host": "bench", "series": "s\($0)"]) }
    }

    private static let start: Int64 = 1_700_000_000_000
    static let quiet: Logger = {
        var logger = Logger(label: "pulsegate.bench")
        logger.logLevel = .warning
        return logger
    }()

    private func storeLoop() async throws -> Double {
        try await Self.storeRate(keys: keys, timestamps: timestamps, batchSize: batchSize)
    }

    /// Rows/s of the store as the collector uses it: samples queued per tick of
    /// `keys`, `timestamps` ticks 1 s apart, committed by the writer.
    static func storeRate(keys: [SeriesKey], timestamps: Int, batchSize: Int) async throws -> Double {
        let series = keys.count
        let directory = try Measure.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SampleStore.open(StoreConfiguration(
            path: directory + "/store.sqlite",
            batchSize: batchSize,
            batchAge: .seconds(3600),
            maxPendingSamples: series * timestamps
        ), logger: Self.quiet)
        let clock = ContinuousClock()
        let started = clock.now
        var tick: [Sample] = []
        tick.reserveCapacity(series)
        for t in 0..<timestamps {
            let ts = Self.start + Int64(t) * 1000
            tick.removeAll(keepingCapacity: true)
            for (index, key) in keys.enumerated() {
                tick.append(Sample(key: key, timestamp: ts, value: Double(t &+ index)))
            }
            try await store.write(tick, durability: .buffered)
        }
        try await store.flush()
        let elapsed = (clock.now - started).seconds
        let statistics = store.statistics
        print("    store: \(statistics.compactions) compactions during the writes moved \(statistics.rowsCompacted) rows; the longest took \(Measure.format(statistics.longestCompaction.seconds * 1000, 1)) ms")
        // What the writes left in the head, compacted with no write waiting (not in the rate).
        let idle = clock.now
        await store.compactAll()
        let left = store.statistics.rowsCompacted - statistics.rowsCompacted
        print("    then, idle: the \(left) rows left compacted in \(Measure.format((clock.now - idle).seconds, 2)) s, \(store.statistics.compactions - statistics.compactions) transactions, the longest of all \(Measure.format(store.statistics.longestCompaction.seconds * 1000, 1)) ms")
        await store.close()
        try Self.checkRowCount(path: directory + "/store.sqlite", expected: series * timestamps)
        return Double(series * timestamps) / elapsed
    }

    /// One prepared INSERT, BEGIN/COMMIT every `batchSize` rows, on the store's own schema.
    private func rawLoop() throws -> Double {
        let directory = try Measure.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/raw.sqlite"
        let db = RawSQLite(path: path)
        db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -32000")
        db.exec("""
            CREATE TABLE series(id INTEGER PRIMARY KEY, metric TEXT NOT NULL, labels TEXT NOT NULL, UNIQUE(metric, labels));
            CREATE TABLE samples(series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL,
                                 PRIMARY KEY(series_id, ts)) WITHOUT ROWID;
            """)
        for index in 0..<series {
            db.exec("INSERT INTO series(id, metric, labels) VALUES (\(index + 1), 'bench_value', '{\"host\":\"bench\",\"series\":\"s\(index)\"}')")
        }
        let insert = db.prepare("""
            INSERT INTO samples(series_id, ts, value) VALUES (?1, ?2, ?3)
            ON CONFLICT(series_id, ts) DO UPDATE SET value = excluded.value
            """)
        defer { sqlite3_finalize(insert) }
        let clock = ContinuousClock()
        let started = clock.now
        var inTransaction = 0
        db.exec("BEGIN IMMEDIATE")
        for t in 0..<timestamps {
            let ts = Self.start + Int64(t) * 1000
            for index in 0..<series {
                sqlite3_bind_int64(insert, 1, Int64(index + 1))
                sqlite3_bind_int64(insert, 2, ts)
                sqlite3_bind_double(insert, 3, Double(t &+ index))
                guard sqlite3_step(insert) == SQLITE_DONE else { fatalError(String(cString: sqlite3_errmsg(db.db))) }
                sqlite3_reset(insert)
                inTransaction += 1
                if inTransaction == batchSize {
                    db.exec("COMMIT; BEGIN IMMEDIATE")
                    inTransaction = 0
                }
            }
        }
        db.exec("COMMIT")
        let elapsed = (clock.now - started).seconds
        try Self.checkRowCount(path: path, expected: series * timestamps)
        return Double(series * timestamps) / elapsed
    }

    /// Both sides must have written every row, or their rates mean nothing.
    private static func checkRowCount(path: String, expected: Int) throws {
        let db = RawSQLite(path: path)
        // The store's file holds rows in its head and samples in chunks (and none twice here: no overwrites).
        let chunked = db.prepare("SELECT count(*) FROM sqlite_schema WHERE name = 'chunks'")
        let hasChunks = sqlite3_step(chunked) == SQLITE_ROW && sqlite3_column_int64(chunked, 0) == 1
        sqlite3_finalize(chunked)
        let count = db.prepare(hasChunks
            ? "SELECT (SELECT count(*) FROM head) + (SELECT coalesce(sum(count), 0) FROM chunks) + (SELECT count(*) FROM samples)"
            : "SELECT count(*) FROM samples")
        defer { sqlite3_finalize(count) }
        guard sqlite3_step(count) == SQLITE_ROW, sqlite3_column_int64(count, 0) == Int64(expected) else {
            throw ValidationError("\(path) holds \(sqlite3_column_int64(count, 0)) samples, expected \(expected)")
        }
    }
}
