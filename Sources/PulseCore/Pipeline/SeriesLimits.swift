/// Bounds on series (cardinality), met by every batch whatever its source.
/// Checked before anything is queued; concurrent batches may together
/// overshoot `maxSeries` by what they add at once.
public struct SeriesLimits: Sendable, Equatable {
    /// New series one batch (one push) may create.
    public var maxNewSeriesPerBatch: Int
    /// Series the store may hold in all; batches that would add more are refused.
    public var maxSeries: Int

    public init(maxNewSeriesPerBatch: Int = 10_000, maxSeries: Int = 1_000_000) {
        self.maxNewSeriesPerBatch = maxNewSeriesPerBatch
        self.maxSeries = maxSeries
    }
}
