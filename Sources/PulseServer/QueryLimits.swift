/// Bounds on what one history query may ask for. Prometheus's own limit of
/// 11,000 points per series is kept as it is: dashboards built for it fit.
public struct QueryLimits: Sendable {
    public static let maxPointsPerSeries = 11_000
    /// Series one response may hold.
    public var maxSeries: Int
    /// Longest `to - from`, in milliseconds.
    public var maxRange: Int64

    public init(maxSeries: Int = 1_000, maxRange: Int64 = 31 * 86_400_000) {
        self.maxSeries = maxSeries
        self.maxRange = maxRange
    }
}
