/// How many series a store holds, and how many a batch would add: what the
/// pipeline checks the series bounds against before anything is queued.
public protocol SeriesCardinality: Sendable {
    /// Series stored so far (committed).
    var seriesCount: Int { get }

    /// How many of `keys` would be new series.
    func newSeriesCount(in keys: Set<SeriesKey>) -> Int
}
