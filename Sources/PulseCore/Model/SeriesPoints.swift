/// One point of a query result: a time (ms since the epoch) and a value.
public struct Point: Sendable, Hashable {
    public var timestamp: Int64
    public var value: Double

    public init(_ timestamp: Int64, _ value: Double) {
        self.timestamp = timestamp
        self.value = value
    }
}

/// The points of one series, ascending by time.
public struct SeriesPoints: Sendable, Hashable {
    public var key: SeriesKey
    public var points: [Point]

    public init(key: SeriesKey, points: [Point]) {
        self.key = key
        self.points = points
    }
}

/// A known series and the time of its latest stored sample, for pickers.
public struct SeriesInfo: Sendable, Hashable {
    public var key: SeriesKey
    public var lastTimestamp: Int64

    public init(key: SeriesKey, lastTimestamp: Int64) {
        self.key = key
        self.lastTimestamp = lastTimestamp
    }
}
