/// Bounds on one push. Every field has a default and a flag.
public struct IngestLimits: Sendable {
    public var maxBodyBytes: Int
    public var maxSamplesPerRequest: Int
    /// Series one request may create.
    public var maxNewSeriesPerRequest: Int
    /// Series the store may hold in all (cardinality); pushes that would add more are refused.
    public var maxSeries: Int

    public init(maxBodyBytes: Int = 8 * 1024 * 1024, maxSamplesPerRequest: Int = 100_000, maxNewSeriesPerRequest: Int = 10_000, maxSeries: Int = 1_000_000) {
        self.maxBodyBytes = maxBodyBytes
        self.maxSamplesPerRequest = maxSamplesPerRequest
        self.maxNewSeriesPerRequest = maxNewSeriesPerRequest
        self.maxSeries = maxSeries
    }
}
