/// A sender's word that a series has ended at a time: Prometheus's staleness
/// marker (a target gone, a series no longer exposed). Not a value: nothing is
/// stored for it; the series leaves the latest values that `/metrics` exposes,
/// unless a newer sample came in meanwhile.
public struct SeriesEnd: Hashable, Sendable {
    public var key: SeriesKey
    /// Milliseconds since the Unix epoch.
    public var timestamp: Int64

    public init(key: SeriesKey, timestamp: Int64) {
        self.key = key
        self.timestamp = timestamp
    }
}
