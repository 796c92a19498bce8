/// What the writer has done since it started; read by self-instrumentation.
public struct WriterStatistics: Sendable, Equatable {
    public var batchesCommitted = 0
    public var rowsWritten = 0
    public var seriesCreated = 0
    public var writeErrors = 0
    /// Samples refused because the queue was full.
    public var samplesRefused = 0
    public var retentionRowsDeleted = 0
    /// Duration of the last commit (the transaction from BEGIN to COMMIT).
    public var lastCommitDuration: Duration = .zero
    /// Samples waiting for the next batch.
    public var pendingSamples = 0
    /// Samples taken by the writer and not yet committed (or failed).
    public var committingSamples = 0

    public init() {}
}
