/// One observation: a series, a time and a value.
public struct Sample: Hashable, Sendable {
    public var key: SeriesKey
    /// Milliseconds since the Unix epoch.
    public var timestamp: Int64
    public var value: Double

    public init(key: SeriesKey, timestamp: Int64, value: Double) {
        self.key = key
        self.timestamp = timestamp
        self.value = value
    }

    public init(metric: String, labels: [String: String] = [:], timestamp: Int64, value: Double) {
        self.init(key: SeriesKey(metric: metric, labels: labels), timestamp: timestamp, value: value)
    }
}
