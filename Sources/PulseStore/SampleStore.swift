import Foundation
import Logging
import Metrics
import PulseCore

/// The time-series store: one SQLite file, one batched writer, a pool of readers.
///
/// This is the only type of the module that other modules use. It writes
/// through `StoreWriter` (batches, group commit) and reads through `ReaderPool`
/// (read-only connections on their own threads).
public final class SampleStore: SampleStorage, Sendable {
    public let configuration: StoreConfiguration
    private let writer: StoreWriter
    private let readers: ReaderPool
    private let logger: Logger
    private let idempotency = IdempotencyLedger()

    private init(configuration: StoreConfiguration, writer: StoreWriter, readers: ReaderPool, logger: Logger) {
        self.configuration = configuration
        self.writer = writer
        self.readers = readers
        self.logger = logger
    }

    /// Opens (or creates) the database, applies migrations and starts the writer.
    ///
    /// Throws `StoreError.schemaTooNew` for a file written by a newer Pulsegate.
    /// `metrics` receives each commit's size and duration.
    public static func open(
        _ configuration: StoreConfiguration, logger: Logger = Logger(label: "pulsegate.store"), metrics: any MetricsFactory = NOOPMetricsHandler.instance
    ) throws -> SampleStore {
        let directory = (configuration.path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let connection = try SQLiteConnection(path: configuration.path, readOnly: false)
        // Compaction frees the pages of the head rows it moves; in a new file the
        // writer can give them back to the filesystem (`StoreWriter.reclaimFreePages`).
        // Only a file without tables can switch, and before WAL mode writes its header;
        // a file made before chunks keeps its free pages for reuse.
        if try connection.scalarInt("SELECT count(*) FROM sqlite_schema") == 0 {
            try connection.execute("PRAGMA auto_vacuum = INCREMENTAL")
        }
        // WAL lets readers run while the writer commits; NORMAL syncs at checkpoints,
        // which survives a crash of the process (not of the machine) with every commit.
        try connection.execute("PRAGMA journal_mode = WAL")
        try connection.execute("PRAGMA synchronous = NORMAL")
        try connection.execute("PRAGMA cache_size = -32000")
        // After a checkpoint resets it, a log grown under load is cut back to this size.
        try connection.execute("PRAGMA journal_size_limit = 67108864")
        try Schema.migrate(connection)
        // Readers first: the writer starts threads, which a later failure here would leak.
        let readers = try ReaderPool(path: configuration.path, count: configuration.readers)
        let writer = try StoreWriter(connection: connection, configuration: configuration, logger: logger, metrics: metrics)
        logger.info("store opened", metadata: ["path": "\(configuration.path)", "schema": "\(Schema.currentVersion)"])
        return SampleStore(configuration: configuration, writer: writer, readers: readers, logger: logger)
    }

    deinit {
        // Closed already, normally; if not, its writer and checkpointer threads must not outlive it.
        writer.requestStop()
    }

    // MARK: Writing

    public func write(_ samples: [Sample], durability: Durability) async throws {
        try await writer.write(samples, durability: durability)
    }

    /// The keys live in memory: this process is the file's only writer.
    public func write(_ samples: [Sample], idempotencyKey key: IdempotencyKey) async throws -> WriteReceipt {
        try await idempotency.once(key, count: samples.count) {
            try await writer.write(samples, durability: .committed)
        }
    }

    /// Commits everything queued so far.
    public func flush() async throws {
        try await writer.flush()
    }

    /// Moves every sample stored so far into compressed chunks, whatever its
    /// age, and returns when done (or when the store closes first): the writer otherwise leaves recent samples
    /// in the head (see `ChunkPolicy`). For benchmarks and checks that measure
    /// the file as it settles; writes keep being taken meanwhile.
    public func compactAll() async {
        await writer.compactAll()
    }

    /// Deletes raw samples older than the retention and rollups older than theirs,
    /// relative to `now` (ms), and returns how many raw samples went. Raw samples
    /// go by whole minutes (the cutoff rounds down to one), so that each minute
    /// is either fully raw or only rolled up.
    @discardableResult
    public func enforceRetention(now: Int64 = Timestamp.now()) async throws -> Int {
        let rawCutoff = MinuteRollup.minute(of: max(0, now - configuration.retention.milliseconds))
        let rollupRetention = max(configuration.rollupRetention, configuration.retention)
        let rollupCutoff = max(0, now - rollupRetention.milliseconds)
        let deleted = try await writer.delete(from: .raw, olderThan: rawCutoff, chunk: configuration.retentionChunk)
        let rollupsDeleted = try await writer.delete(from: .rollups, olderThan: rollupCutoff, chunk: configuration.retentionChunk)
        if deleted > 0 || rollupsDeleted > 0 {
            logger.debug("retention deleted rows", metadata: [
                "samples": "\(deleted)", "cutoff": "\(rawCutoff)", "rollups": "\(rollupsDeleted)", "rollup_cutoff": "\(rollupCutoff)",
            ])
        }
        return deleted
    }

    public var statistics: WriterStatistics {
        writer.statistics
    }

    public var writeFailure: String? {
        writer.statistics.lastWriteError
    }

    /// The file and its write-ahead log.
    public var databaseBytes: Int {
        Self.fileSize(configuration.path) + Self.fileSize(configuration.path + "-wal")
    }

    private static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    public var location: String { configuration.path }

    /// Series stored so far (committed).
    public var seriesCount: Int {
        writer.registry.count
    }

    /// How many of `keys` would be new series.
    public func newSeriesCount(in keys: Set<SeriesKey>) -> Int {
        writer.registry.unknownCount(in: keys)
    }

    /// Commits what is pending, stops the writer and closes every connection.
    /// Nothing accepted before the call is lost.
    public func close() async {
        await writer.stop()
        readers.close()
        let statistics = writer.statistics
        logger.info("store closed", metadata: [
            "path": "\(configuration.path)", "commits": "\(statistics.batchesCommitted)", "rows": "\(statistics.rowsWritten)",
            "checkpoints": "\(statistics.checkpoints)",
        ])
    }

    // MARK: Reading

    /// The keys of the series that `selector` picks, sorted.
    public func series(matching selector: SeriesSelector) async throws -> [SeriesKey] {
        try await readers.read { connection in
            try SeriesQueries.series(selector, on: connection).map(\.key)
        }
    }

    /// Every stored point with `from <= ts <= to`, per series, ascending; at most
    /// `limit` points per series when given.
    public func range(_ selector: SeriesSelector, from: Int64, to: Int64, limit: Int?) async throws -> [SeriesPoints] {
        try await readers.read { connection in
            try SeriesQueries.series(selector, on: connection).map { id, key in
                SeriesPoints(key: key, points: try SeriesQueries.raw(seriesID: id, from: from, to: to, limit: limit, on: connection))
            }
        }
    }

    /// SQLite's `PRAGMA integrity_check` of the whole file: `["ok"]` when sound,
    /// otherwise its findings. It reads every page: for tests and checks, not hot paths.
    public func checkIntegrity() async throws -> [String] {
        try await readers.read { connection in
            let statement = try connection.prepare("PRAGMA integrity_check")
            var findings: [String] = []
            while try statement.step() { findings.append(statement.string(at: 0)) }
            return findings
        }
    }

    /// Known series whose metric starts with `prefix`, with their latest sample's ts.
    public func catalog(prefix: String, limit: Int) async throws -> [SeriesInfo] {
        try await readers.read { connection in
            try SeriesQueries.catalog(prefix: prefix, limit: limit, on: connection)
        }
    }

    /// The latest ts up to which every sample accepted so far is committed: one
    /// less than the oldest ts still waiting for the writer, or `now` when none waits.
    /// (A sample pushed later with an older ts can still land below it.)
    public func committedThrough(now: Int64 = Timestamp.now()) -> Int64 {
        writer.oldestPendingTimestamp.map { min(now, $0 - 1) } ?? now
    }

    /// One point per non-empty bucket of `step` ms (aligned to multiples of `step`), per series.
    ///
    /// A step of whole minutes is served from the per-minute rollups, with raw
    /// rows for the partial minutes at the range's edges.
    public func downsample(
        _ selector: SeriesSelector, from: Int64, to: Int64, step: Int64, aggregation: Aggregation
    ) async throws -> [SeriesPoints] {
        try await downsample(selector, from: from, to: to, step: step, aggregation: aggregation, useRollups: true)
    }

    /// `useRollups: false` computes every bucket from raw rows: what tests compare the rollups with.
    func downsample(
        _ selector: SeriesSelector, from: Int64, to: Int64, step: Int64, aggregation: Aggregation, useRollups: Bool
    ) async throws -> [SeriesPoints] {
        precondition(step > 0, "step must be positive")
        // Taken before the read's snapshot: the floor only rises, so every minute
        // above it still has all its samples in the snapshot.
        let rawFloor = writer.rawFloor
        return try await readers.read { connection in
            try SeriesQueries.series(selector, on: connection).map { id, key in
                SeriesPoints(key: key, points: try SeriesQueries.downsampled(
                    seriesID: id, from: from, to: to, step: step, aggregation: aggregation, useRollups: useRollups,
                    rawFloor: rawFloor, on: connection
                ))
            }
        }
    }
}
