/// The aggregates of one series over a span of time: what a downsampling
/// bucket needs, whatever its aggregation.
///
/// The store keeps one per series and minute (`rollups_1m`), so that a query
/// whose step is a whole number of minutes reads one row per minute instead of
/// one per sample.
///
/// Both the writer (keeping the table) and the reader (computing buckets from
/// raw rows at a range's edges, or everywhere when told not to use rollups) fold
/// samples with `add` in ascending ts order, and buckets combine minutes with
/// `merge` in ascending minute order. Floating-point addition is not
/// associative, so this one order on both sides is what makes a query served
/// from rollups return the very same bits as one computed from raw rows.
public struct MinuteRollup: Equatable, Sendable {
    /// The width of a rollup, in ms.
    public static let resolution: Int64 = 60_000

    /// The start of the minute holding `timestamp` (never negative: the model refuses that).
    public static func minute(of timestamp: Int64) -> Int64 {
        timestamp - timestamp % resolution
    }

    public var count: Int64
    public var sum: Double
    public var min: Double
    public var max: Double
    public var last: Double
    public var lastTimestamp: Int64

    public init(count: Int64, sum: Double, min: Double, max: Double, last: Double, lastTimestamp: Int64) {
        self.count = count
        self.sum = sum
        self.min = min
        self.max = max
        self.last = last
        self.lastTimestamp = lastTimestamp
    }

    /// The aggregates of a single sample.
    public init(timestamp: Int64, value: Double) {
        self.init(count: 1, sum: value, min: value, max: value, last: value, lastTimestamp: timestamp)
    }

    /// The aggregates of samples in ascending ts order; nil when there are none.
    public init?(folding samples: some Sequence<(Int64, Double)>) {
        var iterator = samples.makeIterator()
        guard let (timestamp, value) = iterator.next() else { return nil }
        self.init(timestamp: timestamp, value: value)
        while let (timestamp, value) = iterator.next() { add(timestamp: timestamp, value: value) }
    }

    /// Folds in a sample later than every one so far.
    public mutating func add(timestamp: Int64, value: Double) {
        precondition(timestamp > lastTimestamp, "rollups fold samples in ascending ts order")
        count += 1
        sum += value
        min = Swift.min(min, value)
        max = Swift.max(max, value)
        last = value
        lastTimestamp = timestamp
    }

    /// Folds in the aggregates of a later span.
    public mutating func merge(_ later: MinuteRollup) {
        count += later.count
        sum += later.sum
        min = Swift.min(min, later.min)
        max = Swift.max(max, later.max)
        if later.lastTimestamp > lastTimestamp {
            last = later.last
            lastTimestamp = later.lastTimestamp
        }
    }

    public func value(_ aggregation: Aggregation) -> Double {
        switch aggregation {
        case .avg: sum / Double(count)
        case .min: min
        case .max: max
        case .sum: sum
        case .last: last
        case .count: Double(count)
        }
    }
}
