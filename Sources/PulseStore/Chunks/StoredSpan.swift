import PulseCore

/// Every sample one series stores between two ts, as a compaction step holds
/// them in memory once it has merged its rows with the chunks they overlap:
/// what a read of that span would find after the step commits.
///
/// The step's rollups are folded from it rather than read back from the
/// chunks it has just encoded and the head rows it has just read.
struct StoredSpan {
    /// Both ends included.
    let span: ClosedRange<Int64>
    /// Ascending; every sample of the series with its ts in `span`, and none other.
    let points: ArraySlice<Point>

    /// `points` (ascending, each ts once) cut to `span`.
    init(_ points: [Point], span: ClosedRange<Int64>) {
        self.span = span
        let lower = Self.firstIndex(in: points[...], atOrAfter: span.lowerBound)
        let upper = span.upperBound == .max ? points.endIndex : Self.firstIndex(in: points[...], atOrAfter: span.upperBound + 1)
        self.points = points[lower..<upper]
    }

    /// Whether every sample of `minute` is here.
    func covers(minute: Int64) -> Bool {
        span.lowerBound <= minute && minute <= span.upperBound - (MinuteRollup.resolution - 1)
    }

    /// The samples of `minute` (one that this span covers), ascending.
    func points(inMinute minute: Int64) -> ArraySlice<Point> {
        let lower = Self.firstIndex(in: points, atOrAfter: minute)
        let upper = Self.firstIndex(in: points[lower...], atOrAfter: minute + MinuteRollup.resolution)
        return points[lower..<upper]
    }

    private static func firstIndex(in points: ArraySlice<Point>, atOrAfter timestamp: Int64) -> Int {
        var low = points.startIndex
        var high = points.endIndex
        while low < high {
            let middle = low + (high - low) / 2
            if points[middle].timestamp < timestamp { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
