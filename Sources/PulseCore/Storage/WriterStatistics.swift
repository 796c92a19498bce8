/// What a store's writer has done since it started; read by self-instrumentation.
/// (`checkpoints` is the SQLite store's alone.)
public struct WriterStatistics: Sendable, Equatable {
    public var batchesCommitted = 0
    public var rowsWritten = 0
    public var seriesCreated = 0
    public var writeErrors = 0
    /// Why the last transaction failed, while no later one has succeeded (a full disk, say).
    public var lastWriteError: String?
    /// Samples refused because the queue was full.
    public var samplesRefused = 0
    /// Samples queued, then given up before a commit took them: a failed write could
    /// not put them back into a full queue, or (cluster mode) they waited for
    /// PostgreSQL longer than the queue's age bound.
    public var samplesDropped = 0
    public var retentionRowsDeleted = 0
    /// Per-minute rollup rows written (inserted or updated): by commits in cluster
    /// mode, by compaction and raw retention in the SQLite store.
    public var rollupsWritten = 0
    /// Rollups recomputed from raw rows because a sample came out of order or
    /// overwrote one (cluster mode; the SQLite store folds every minute at compaction).
    public var rollupsRecomputed = 0
    public var retentionRollupsDeleted = 0
    /// Compaction transactions that moved rows into chunks (the SQLite store's
    /// alone), the rows they moved, and the longest such transaction.
    public var compactions = 0
    public var rowsCompacted = 0
    public var longestCompaction: Duration = .zero
    /// Compaction transactions that failed (and were rolled back).
    public var compactionErrors = 0
    /// WAL checkpoints completed by the checkpointer thread.
    public var checkpoints = 0
    /// Duration of the last commit (the transaction from BEGIN to COMMIT).
    public var lastCommitDuration: Duration = .zero
    /// Samples waiting for the next batch.
    public var pendingSamples = 0
    /// Samples taken by the writer and not yet committed (or failed).
    public var committingSamples = 0

    public init() {}
}
