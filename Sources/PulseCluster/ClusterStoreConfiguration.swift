/// How the cluster's store writes and forgets. The batching and retention
/// settings are the embedded store's (the same flags); the rest is PostgreSQL's.
public struct ClusterStoreConfiguration: Sendable {
    public var postgres: PostgresSettings
    /// This node's name (`--node`): unique in the cluster.
    public var node: String
    /// Commit when this many samples are pending…
    public var batchSize: Int
    /// …or when the oldest has waited this long.
    public var batchAge: Duration
    /// Raw samples older than this go, a whole day's partition at a time.
    public var retention: Duration
    /// Per-minute rollups older than this go; at least `retention`.
    public var rollupRetention: Duration
    /// How often partitions are made ahead and retention runs (on one node at a time).
    public var maintenanceInterval: Duration
    /// Rollup rows deleted per retention transaction.
    public var retentionChunk: Int
    /// Samples that may wait for PostgreSQL (also while it is down) before new ones are refused.
    public var maxPendingSamples: Int
    /// The longest the collector's samples wait for PostgreSQL (while it is down) before
    /// they are given up, oldest first, and counted; pushes never wait this long (they
    /// are answered 503 at once).
    public var maxPendingAge: Duration
    /// The longest a write transaction may take before it counts as failed (PostgreSQL
    /// not answering): its pushes get 503, its buffered samples wait for the next try.
    public var commitTimeout: Duration
    /// Day partitions made ahead of today.
    public var partitionsAhead: Int
    /// The replay log keeps at most this many batches…
    public var replayFrames: Int
    /// …none older than this: a client that resumes from further back gets a `reset`.
    public var replayAge: Duration

    public init(
        postgres: PostgresSettings,
        node: String,
        batchSize: Int = 10_000,
        batchAge: Duration = .seconds(1),
        retention: Duration = .seconds(7 * 24 * 3600),
        rollupRetention: Duration = .seconds(90 * 24 * 3600),
        maintenanceInterval: Duration = .seconds(60),
        retentionChunk: Int = 5_000,
        maxPendingSamples: Int = 1_000_000,
        maxPendingAge: Duration = .seconds(3600),
        commitTimeout: Duration = .seconds(5),
        partitionsAhead: Int = 2,
        replayFrames: Int = 100_000,
        replayAge: Duration = .seconds(3600)
    ) {
        self.postgres = postgres
        self.node = node
        self.batchSize = batchSize
        self.batchAge = batchAge
        self.retention = retention
        self.rollupRetention = rollupRetention
        self.maintenanceInterval = maintenanceInterval
        self.retentionChunk = retentionChunk
        self.maxPendingSamples = maxPendingSamples
        self.maxPendingAge = maxPendingAge
        self.commitTimeout = commitTimeout
        self.partitionsAhead = partitionsAhead
        self.replayFrames = replayFrames
        self.replayAge = replayAge
    }
}
