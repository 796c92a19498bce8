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

extension Sample {
    /// The same observation with `labels` added to its series' (replacing any of the same name).
    public func adding(_ labels: [String: String]) -> Sample {
        var all = Dictionary(key.labels.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        all.merge(labels) { $1 }
        return Sample(metric: key.metric, labels: all, timestamp: timestamp, value: value)
    }
}
