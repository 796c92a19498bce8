/// How the store writes, reads and forgets. Every field has a default and a flag.
public struct StoreConfiguration: Sendable {
    /// The SQLite file; its directory is created when missing.
    public var path: String
    /// Commit when this many samples are pending…
    public var batchSize: Int
    /// …or when the oldest pending sample has waited this long, whichever comes first.
    public var batchAge: Duration
    /// Raw samples older than this are deleted (whole minutes at a time).
    public var retention: Duration
    /// Per-minute rollups older than this are deleted; at least `retention`.
    public var rollupRetention: Duration
    /// How often retention runs.
    public var retentionInterval: Duration
    /// Rows deleted per retention transaction, so that writers are never held up long.
    public var retentionChunk: Int
    /// Samples that may wait for the writer before new ones are refused.
    public var maxPendingSamples: Int
    /// Read-only connections (and threads) for queries.
    public var readers: Int
    /// How head rows become chunks: a design constant, not a flag (tests shrink it).
    var chunkPolicy = ChunkPolicy.standard

    public init(
        path: String = "data/pulsegate.sqlite",
        batchSize: Int = 10_000,
        batchAge: Duration = .seconds(1),
        retention: Duration = .seconds(7 * 24 * 3600),
        rollupRetention: Duration = .seconds(90 * 24 * 3600),
        retentionInterval: Duration = .seconds(60),
        retentionChunk: Int = 5_000,
        maxPendingSamples: Int = 1_000_000,
        readers: Int = 2
    ) {
        self.path = path
        self.batchSize = batchSize
        self.batchAge = batchAge
        self.retention = retention
        self.rollupRetention = rollupRetention
        self.retentionInterval = retentionInterval
        self.retentionChunk = retentionChunk
        self.maxPendingSamples = maxPendingSamples
        self.readers = readers
    }
}
