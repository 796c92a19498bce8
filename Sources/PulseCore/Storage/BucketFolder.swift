/// Combines per-minute rollups, given in ascending minute order, into buckets of
/// `step` ms (a whole number of minutes) aligned to multiples of `step`.
public struct BucketFolder: Sendable {
    public let step: Int64
    private var buckets: [(start: Int64, rollup: MinuteRollup)] = []

    public init(step: Int64) {
        precondition(step > 0 && step % MinuteRollup.resolution == 0, "buckets hold whole minutes")
        self.step = step
    }

    public mutating func add(_ minute: Int64, _ rollup: MinuteRollup) {
        let start = minute - minute % step
        if let last = buckets.indices.last, buckets[last].start == start {
            buckets[last].rollup.merge(rollup)
        } else {
            buckets.append((start, rollup))
        }
    }

    public func points(_ aggregation: Aggregation) -> [Point] {
        buckets.map { Point($0.start, $0.rollup.value(aggregation)) }
    }
}
