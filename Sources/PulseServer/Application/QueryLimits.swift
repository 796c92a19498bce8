/// Bounds on what one history query may ask for. Points per series default to
/// Prometheus's own limit of 11,000, which dashboards built for it fit, and
/// may be set lower, never higher.
public struct QueryLimits: Sendable {
    /// Prometheus's limit, and the most a `points=` may ask.
    public static let maxPointsPerSeries = 11_000
    /// Points one series of a response may hold, at most `maxPointsPerSeries`.
    public var maxPoints: Int
    /// Series one response may hold.
    public var maxSeries: Int
    /// Longest `to - from`, in milliseconds.
    public var maxRange: Int64

    public init(maxSeries: Int = 1_000, maxRange: Int64 = 31 * 86_400_000, maxPoints: Int = QueryLimits.maxPointsPerSeries) {
        self.maxSeries = maxSeries
        self.maxRange = maxRange
        self.maxPoints = min(maxPoints, QueryLimits.maxPointsPerSeries)
    }
}
