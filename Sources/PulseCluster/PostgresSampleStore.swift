import Logging
import Metrics
import PostgresNIO
import PulseCore
import Synchronization

/// The cluster's store: every node's history in one PostgreSQL database,
/// behind the same protocols as the embedded SQLite store, answering the same
/// for the same data.
///
/// Writes go through the node's `PostgresWriter` (group commits, COPY); reads
/// go to PostgreSQL through the client's pool, off every event loop's way
/// (postgres-nio's I/O never blocks a thread).
public final class PostgresSampleStore: SampleStorage, Sendable {
    public let configuration: ClusterStoreConfiguration
    let client: PostgresClient
    private let writer: PostgresWriter
    private let queries: PostgresQueries
    private let maintenance: PartitionMaintenance
    private let logger: Logger
    /// What the probe last saw: the database's size, or why PostgreSQL did not answer.
    private let probe = Mutex<(bytes: Int, failure: String?, failedAt: ContinuousClock.Instant?)>((0, nil, nil))
    /// The lowest `committed_through` the other live nodes reported, if any did.
    private let peersCommittedThrough = Mutex<Int64?>(nil)

    /// How often PostgreSQL is asked whether it answers (and how large the database
    /// is), and how often the node reports how far its writes are committed.
    static let probeInterval: Duration = .seconds(2)
    /// A node that has not reported for this long (stopped, killed, cut off) no
    /// longer holds back the others' `complete_until`: it acknowledged nothing
    /// that is not committed, and what it had buffered is lost with it.
    static let peerFreshness: Int64 = 10_000

    private init(configuration: ClusterStoreConfiguration, client: PostgresClient, writer: PostgresWriter, logger: Logger) {
        self.configuration = configuration
        self.client = client
        self.writer = writer
        self.queries = PostgresQueries(client: client, logger: logger)
        self.maintenance = PartitionMaintenance(client: client, configuration: configuration, logger: logger)
        self.logger = logger
    }

    /// Connects, applies migrations, makes today's partitions and loads the
    /// series; then `run()` must run (it drives the connection pool and the writer).
    ///
    /// Throws `ClusterError.schemaTooNew` for a database set up by a newer Pulsegate.
    /// `client` is the pool whose `run()` is already running (see `PostgresStoreService`).
    static func open(
        _ configuration: ClusterStoreConfiguration, client: PostgresClient, logger: Logger, metrics: any MetricsFactory
    ) async throws -> PostgresSampleStore {
        try await PostgresSchema.migrate(client, logger: logger)
        let maintenance = PartitionMaintenance(client: client, configuration: configuration, logger: logger)
        try await maintenance.run()
        var seriesIDs: [SeriesKey: Int64] = [:]
        let rows = try await client.query("SELECT id, metric, labels FROM series", logger: logger)
        for try await (id, metric, labelText) in rows.decode((Int64, String, String).self) {
            if let labels = LabelJSON.decode(labelText) { seriesIDs[SeriesKey(metric: metric, labels: labels)] = id }
        }
        let partitions = try await client.withConnection { try await Partitions.existing(on: $0, logger: logger) }
        let writer = PostgresWriter(
            client: client, configuration: configuration, seriesIDs: seriesIDs, partitions: partitions, logger: logger, metrics: metrics
        )
        logger.info("cluster store opened", metadata: [
            "postgres": "\(configuration.postgres)", "schema": "\(PostgresSchema.currentVersion)", "series": "\(seriesIDs.count)",
        ])
        return PostgresSampleStore(configuration: configuration, client: client, writer: writer, logger: logger)
    }

    /// Runs the writer and the periodic maintenance until `close()`.
    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.writer.run() }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: self.configuration.maintenanceInterval)
                    if Task.isCancelled { return }
                    do {
                        try await self.maintenance.run()
                    } catch {
                        self.logger.error("partition maintenance failed", metadata: ["error": "\(String(reflecting: error))"])
                    }
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    await self.probeOnce()
                    try? await Task.sleep(for: Self.probeInterval)
                }
            }
            // The writer returns once stopped and drained; then maintenance and the probe stop too.
            await group.next()
            group.cancelAll()
        }
        // Stopped: nothing of this node waits any more, so it holds back no one's `complete_until`.
        let (client, logger, node) = (self.client, self.logger, configuration.node)
        try? await withDeadline(.seconds(1)) {
            try await client.query("DELETE FROM nodes WHERE name = \(node)", logger: logger)
        }
    }

    /// Readiness between writes: a node whose PostgreSQL stops answering says so
    /// within `probeInterval`, before a push has to find out.
    func probeOnce() async {
        do {
            let (client, logger) = (self.client, self.logger)
            let node = configuration.node
            let now = Timestamp.now()
            let mine = localCommittedThrough(now: now - HandoverGrace.milliseconds)
            let (bytes, peers) = try await withDeadline(Self.probeInterval) {
                let bytes = try await client.query("SELECT pg_database_size(current_database())", logger: logger)
                    .collect().first?.decode(Int64.self) ?? 0
                try await client.query("""
                    INSERT INTO nodes(name, committed_through, reported_at) VALUES (\(node), \(mine), \(now))
                    ON CONFLICT (name) DO UPDATE SET committed_through = EXCLUDED.committed_through, reported_at = EXCLUDED.reported_at
                    """, logger: logger)
                let peers = try await client.query("""
                    SELECT min(committed_through) FROM nodes WHERE name <> \(node) AND reported_at > \(now - Self.peerFreshness)
                    """, logger: logger).collect().first?.decode(Int64?.self) ?? nil
                return (bytes, peers)
            }
            probe.withLock { $0 = (Int(bytes), nil, nil) }
            peersCommittedThrough.withLock { $0 = peers }
        } catch {
            let reason = "PostgreSQL does not answer: \(PostgresStoreService.reason(error))"
            probe.withLock { $0.failure = reason; $0.failedAt = .now }
        }
    }

    // MARK: Writing

    public func write(_ samples: [Sample], durability: Durability) async throws {
        try await writer.write(samples, durability: durability)
    }

    /// The keys live in PostgreSQL, checked and written in the samples' transaction,
    /// so a retry sent to any node is stored once.
    public func write(_ samples: [Sample], idempotencyKey key: IdempotencyKey) async throws -> WriteReceipt {
        try await writer.committed(samples, key: key)
    }

    /// Commits everything queued so far.
    public func flush() async throws {
        try await writer.write([], durability: .committed)
    }

    /// One round of partition upkeep and retention, relative to `now`.
    func maintain(now: Int64) async throws -> PartitionMaintenance.Round {
        try await maintenance.run(now: now)
    }

    /// The stream's head seq and the cluster's epoch, as committed now.
    func streamHead() async throws -> (seq: UInt64, epoch: String) {
        let row = try await client.query("SELECT seq, epoch FROM stream_head", logger: logger).collect().first
        guard let (seq, epoch) = try row?.decode((Int64, String).self) else { throw ClusterError.noStreamHead }
        return (UInt64(seq), epoch)
    }

    /// `body` is told of every batch this node commits, in commit order.
    func onCommit(_ body: @escaping @Sendable (PublishedBatch) -> Void) {
        writer.committed.withLock { $0 = body }
    }

    /// Asks the writer to commit what is queued and stop; `run()` returns after.
    func requestStop() {
        writer.requestStop()
    }

    public var statistics: WriterStatistics { writer.statistics }

    /// The writer's last failure while it lasts; else the probe's, unless a commit succeeded since.
    public var writeFailure: String? {
        if let failure = writer.statistics.lastWriteError { return failure }
        let (failure, failedAt) = probe.withLock { ($0.failure, $0.failedAt) }
        if let failedAt, let lastCommit = writer.lastCommit, lastCommit > failedAt { return nil }
        return failure
    }

    public var databaseBytes: Int { probe.withLock { $0.bytes } }

    public var location: String { configuration.postgres.description }

    public var seriesCount: Int { writer.registry.count }

    /// The series known to exist: this node's writes, and every node's through the stream.
    var registry: SeriesRegistry { writer.registry }

    public func newSeriesCount(in keys: Set<SeriesKey>) -> Int {
        writer.registry.unknownCount(in: keys)
    }

    // MARK: Reading

    public func range(_ selector: SeriesSelector, from: Int64, to: Int64, limit: Int?) async throws -> [SeriesPoints] {
        var result: [SeriesPoints] = []
        for (id, key) in try await queries.series(selector) {
            result.append(SeriesPoints(key: key, points: try await queries.raw(seriesID: id, from: from, to: to, limit: limit)))
        }
        return result
    }

    public func downsample(_ selector: SeriesSelector, from: Int64, to: Int64, step: Int64, aggregation: Aggregation) async throws -> [SeriesPoints] {
        precondition(step > 0, "step must be positive")
        var result: [SeriesPoints] = []
        for (id, key) in try await queries.series(selector) {
            result.append(SeriesPoints(key: key, points: try await queries.downsampled(seriesID: id, from: from, to: to, step: step, aggregation: aggregation)))
        }
        return result
    }

    public func catalog(prefix: String, limit: Int) async throws -> [SeriesInfo] {
        try await queries.catalog(prefix: prefix, limit: limit)
    }

    /// The latest ts up to which every sample accepted by any node is committed:
    /// this node's own figure, or what another node reported (every `probeInterval`,
    /// already less `HandoverGrace`) if that is lower. A report is at most a probe
    /// old: what that node accepted since is stamped later than it, or is a push
    /// with an older ts, which may land below `complete_until` on one node too.
    public func committedThrough(now: Int64 = Timestamp.now()) -> Int64 {
        let mine = localCommittedThrough(now: now)
        return peersCommittedThrough.withLock { $0 }.map { min(mine, $0) } ?? mine
    }

    /// One less than the oldest ts still waiting for this node's writer, or `now`.
    private func localCommittedThrough(now: Int64) -> Int64 {
        writer.oldestPendingTimestamp.map { min(now, $0 - 1) } ?? now
    }
}
