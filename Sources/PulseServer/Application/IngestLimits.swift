/// Bounds on one push request. Every field has a default and a flag; the
/// series bounds, which every source meets, are the pipeline's (`SeriesLimits`).
public struct IngestLimits: Sendable {
    public var maxBodyBytes: Int
    public var maxSamplesPerRequest: Int

    public init(maxBodyBytes: Int = 8 * 1024 * 1024, maxSamplesPerRequest: Int = 100_000) {
        self.maxBodyBytes = maxBodyBytes
        self.maxSamplesPerRequest = maxSamplesPerRequest
    }
}
