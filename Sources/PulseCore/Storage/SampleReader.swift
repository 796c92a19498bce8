/// The reading side of a store (Prometheus's `Queryable`): what the HTTP layer
/// asks of stored samples. The SQLite store implements it, and so can another
/// store behind the same seam, without the controllers knowing which.
///
/// Timestamps are Unix milliseconds; ranges are inclusive at both ends.
public protocol SampleReader: SeriesCardinality {
    /// Every stored point with `from <= ts <= to`, per series (sorted by key),
    /// ascending; at most `limit` points per series when given.
    func range(_ selector: SeriesSelector, from: Int64, to: Int64, limit: Int?) async throws -> [SeriesPoints]

    /// One point per non-empty bucket of `step` ms, buckets aligned to
    /// multiples of `step`, each point stamped with its bucket's start.
    func downsample(_ selector: SeriesSelector, from: Int64, to: Int64, step: Int64, aggregation: Aggregation) async throws -> [SeriesPoints]

    /// Known series whose metric starts with `prefix`, with their latest sample's ts,
    /// sorted by metric; at most `limit`.
    func catalog(prefix: String, limit: Int) async throws -> [SeriesInfo]

    /// The latest ts up to which every sample accepted so far is readable:
    /// one less than the oldest ts still waiting for a commit, or `now` when none waits.
    func committedThrough(now: Int64) -> Int64
}
