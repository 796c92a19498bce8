import ArgumentParser
import CSQLite
import Foundation
import PulseCore
import PulseStore

/// Bytes per sample on disk: each dataset written through the store, every
/// sample compacted into chunks and the log checkpointed, against the same
/// samples written into a Prometheus TSDB block by `promtool` in the same run.
struct StorageBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage",
        abstract: "Bytes per sample of the SQLite file after compaction, beside a Prometheus block of the same samples."
    )

    @Option(help: "Series per synthetic kind.") var series = 20
    @Option(help: "Samples per synthetic series (1 s apart).") var samples = 7_200
    @Option(help: "Runs per dataset; the median file size is reported.") var runs = 3
    @Option(help: "Recorded samples: an OpenMetrics file, gzipped (scripts/record_host_fixture.py writes one); \"\" for none.")
    var openmetrics = BenchDatasets.recordedFixture
    @Option(help: "Prometheus's promtool (Debian's prometheus package); \"\" to skip the comparison.") var promtool = "promtool"

    func run() async throws {
        var datasets = BenchDatasets.synthetic(series: series, samples: samples)
        // (b) of the issue: whole-number gauges and counters together.
        datasets = [
            BenchDatasets.Dataset(name: "integer gauges and counters", series: datasets[0].series + datasets[1].series),
            datasets[2],
        ]
        if !openmetrics.isEmpty {
            datasets.insert(BenchDatasets.Dataset(name: BenchDatasets.recordedName(openmetrics), series: try BenchDatasets.recorded(openmetrics)), at: 0)
        }
        print("storage: each dataset written in time order through the store, compacted, checkpointed; \(runs) runs; Prometheus block by \(promtool.isEmpty ? "(skipped)" : promtool)")
        for dataset in datasets {
            var files: [StoredFile] = []
            for _ in 0..<runs { files.append(try await Self.storeFile(dataset)) }
            let file = files.sorted { $0.bytes < $1.bytes }[files.count / 2]
            let count = Double(dataset.sampleCount)
            let ours = Double(file.bytes) / count
            let rawTier = Double(file.bytes - file.rollupBytes) / count
            var line = "result: \(dataset.name), \(dataset.sampleCount) samples in \(dataset.series.count) series: "
                + "\(Measure.format(ours, 2)) bytes/sample, \(Measure.format(rawTier, 2)) without rollups_1m's pages (\(file.breakdown))"
            if !promtool.isEmpty {
                let block = Double(try Self.prometheusBlockBytes(dataset, promtool: promtool)) / count
                line += "; Prometheus block \(Measure.format(block, 2)) bytes/sample, ratio \(Measure.format(ours / block, 2)) (without rollups \(Measure.format(rawTier / block, 2)))"
            }
            print(line)
            print("  " + Self.atDefaultRetention(rawBytesPerSample: rawTier, rollupBytesPerRow: Double(file.rollupBytes) / Double(max(file.rollupRows, 1))))
        }
    }

    /// What one series sampled every second costs at the default retentions
    /// (raw samples for a week, a rollup row per minute for 90 days), at the
    /// bytes per sample and per rollup row measured: the file's size once both
    /// tiers are full, as a user sees it.
    static func atDefaultRetention(rawBytesPerSample: Double, rollupBytesPerRow: Double) -> String {
        let defaults = StoreConfiguration()
        let rawSamples = Double(defaults.retention.components.seconds)
        let rollupRows = Double(defaults.rollupRetention.components.seconds / 60)
        let raw = rawSamples * rawBytesPerSample / 1_048_576
        let rollups = rollupRows * rollupBytesPerRow / 1_048_576
        return "at the default retention, a series at 1 s: raw \(Measure.format(raw, 1)) MB (\(defaults.retention.components.seconds / 86_400) days), "
            + "rollups \(Measure.format(rollups, 1)) MB (\(defaults.rollupRetention.components.seconds / 86_400) days at \(Measure.format(rollupBytesPerRow, 1)) bytes a row)"
    }

    /// A file the store wrote: its bytes, those of the rollups' table, and what its pages hold.
    struct StoredFile {
        let bytes: Int
        let rollupBytes: Int
        let rollupRows: Int
        let breakdown: String
    }

    /// Writes the dataset tick by tick (every series' sample of one second
    /// together, as the collector does), compacts everything, closes the
    /// store (which checkpoints and truncates the log) and returns the file's
    /// size, with what the file's pages hold.
    static func storeFile(_ dataset: BenchDatasets.Dataset) async throws -> StoredFile {
        let directory = NSTemporaryDirectory() + "pulsegate-storage-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/bench.sqlite"
        let store = try SampleStore.open(StoreConfiguration(path: path, maxPendingSamples: dataset.sampleCount), logger: StoreWriteBenchmark.quiet)
        let longest = dataset.series.map(\.samples.count).max() ?? 0
        var batch: [Sample] = []
        for index in 0..<longest {
            for series in dataset.series where index < series.samples.count {
                batch.append(Sample(key: series.key, timestamp: series.samples[index].timestamp, value: series.samples[index].value))
            }
            if batch.count >= 1_000 {
                try await store.write(batch, durability: .buffered)
                batch.removeAll(keepingCapacity: true)
            }
        }
        try await store.write(batch, durability: .committed)
        await store.compactAll()
        await store.close()
        let size = Measure.fileSize(path) + Measure.fileSize(path + "-wal")
        let db = RawSQLite(path: path)
        let rollups = db.prepare("SELECT (SELECT sum(pgsize) FROM dbstat WHERE name = 'rollups_1m'), (SELECT count(*) FROM rollups_1m)")
        defer { sqlite3_finalize(rollups) }
        guard sqlite3_step(rollups) == SQLITE_ROW else { throw BenchError("could not measure rollups_1m") }
        return StoredFile(
            bytes: size, rollupBytes: Int(sqlite3_column_int64(rollups, 0)), rollupRows: Int(sqlite3_column_int64(rollups, 1)),
            breakdown: pageBreakdown(path)
        )
    }

    /// Bytes per table and index, from SQLite's dbstat.
    static func pageBreakdown(_ path: String) -> String {
        let db = RawSQLite(path: path)
        let statement = db.prepare("""
            SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY sum(pgsize) DESC
            """)
        defer { sqlite3_finalize(statement) }
        var parts: [String] = []
        while sqlite3_step(statement) == SQLITE_ROW {
            let bytes = sqlite3_column_int64(statement, 1)
            guard bytes > 4_096 else { continue }
            parts.append("\(String(cString: sqlite3_column_text(statement, 0))) \(bytes / 1_024) KB")
        }
        let payload = db.prepare("SELECT coalesce(sum(length(data)), 0), count(*) FROM chunks")
        if sqlite3_step(payload) == SQLITE_ROW {
            parts.append("chunk bytes \(sqlite3_column_int64(payload, 0) / 1_024) KB in \(sqlite3_column_int64(payload, 1)) chunks")
        }
        sqlite3_finalize(payload)
        // Per metric: what each kind of series costs in chunks (bytes of chunk data per sample).
        let perMetric = db.prepare("""
            SELECT s.metric, sum(length(c.data)) * 1.0 / sum(c.count) FROM chunks c JOIN series s ON s.id = c.series_id
            GROUP BY s.metric ORDER BY 2 DESC
            """)
        var metrics: [String] = []
        while sqlite3_step(perMetric) == SQLITE_ROW {
            metrics.append("\(String(cString: sqlite3_column_text(perMetric, 0))) \(Measure.format(sqlite3_column_double(perMetric, 1), 2))")
        }
        sqlite3_finalize(perMetric)
        if metrics.count > 1 { parts.append("chunk bytes/sample by metric: " + metrics.joined(separator: ", ")) }
        let free = db.prepare("PRAGMA freelist_count")
        defer { sqlite3_finalize(free) }
        if sqlite3_step(free) == SQLITE_ROW, sqlite3_column_int64(free, 0) > 0 { parts.append("free pages \(sqlite3_column_int64(free, 0))") }
        return parts.joined(separator: ", ")
    }

    /// The dataset as OpenMetrics, turned into TSDB blocks by promtool; the blocks' bytes.
    static func prometheusBlockBytes(_ dataset: BenchDatasets.Dataset, promtool: String) throws -> Int {
        let directory = NSTemporaryDirectory() + "pulsegate-promblock-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/blocks", withIntermediateDirectories: true)
        var text = ""
        var typed: Set<String> = []
        for series in dataset.series {
            if typed.insert(series.key.metric).inserted { text += "# TYPE \(series.key.metric) gauge\n" }
            let labels = series.key.labels.map { "\($0.name)=\"\($0.value)\"" }.joined(separator: ",")
            let name = labels.isEmpty ? series.key.metric : "\(series.key.metric){\(labels)}"
            for sample in series.samples {
                text += "\(name) \(sample.value) \(sample.timestamp / 1_000).\(String(format: "%03d", sample.timestamp % 1_000))\n"
            }
        }
        text += "# EOF\n"
        try text.write(toFile: directory + "/input.om", atomically: false, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [promtool, "tsdb", "create-blocks-from", "openmetrics", directory + "/input.om", directory + "/blocks"]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw BenchError("promtool failed (\(process.terminationStatus))") }
        var total = 0
        let enumerator = FileManager.default.enumerator(atPath: directory + "/blocks")
        while let file = enumerator?.nextObject() as? String {
            total += Measure.fileSize(directory + "/blocks/" + file)
        }
        return total
    }
}
