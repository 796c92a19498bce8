import PulseCore
import Synchronization

/// A store in memory behind the same protocols as the SQLite store: what the
/// HTTP layer's seam promises to accept, and a second implementation that the
/// same queries must answer alike (`StoreContractTests`). Every write is
/// "committed" at once; last write wins for the same series and ts.
public final class MemorySampleStore: SampleWriter, SampleReader, Sendable {
    private let series = Mutex<[SeriesKey: [Int64: Double]]>([:])

    public init() {}

    public func write(_ samples: [Sample], durability: Durability) async throws {
        series.withLock { series in
            for sample in samples { series[sample.key, default: [:]][sample.timestamp] = sample.value }
        }
    }

    private let idempotency = IdempotencyLedger()

    public func write(_ samples: [Sample], idempotencyKey key: IdempotencyKey) async throws -> WriteReceipt {
        try await idempotency.once(key, count: samples.count) { try await write(samples, durability: .committed) }
    }

    public var writeFailure: String? { nil }

    public var seriesCount: Int { series.withLock { $0.count } }

    public func newSeriesCount(in keys: Set<SeriesKey>) -> Int {
        series.withLock { known in keys.filter { known[$0] == nil }.count }
    }

    public func committedThrough(now: Int64) -> Int64 { now }

    /// The selected series, sorted by key as the SQLite store returns them (those
    /// without a point in the range included), with their points ascending.
    private func selected(_ selector: SeriesSelector, from: Int64, to: Int64) -> [(SeriesKey, [Point])] {
        series.withLock { series in
            series.filter { selector.matches($0.key) }
                .map { key, points in (key, points.filter { (from...to).contains($0.key) }.sorted { $0.key < $1.key }.map { Point($0.key, $0.value) }) }
                .sorted { $0.0 < $1.0 }
        }
    }

    public func range(_ selector: SeriesSelector, from: Int64, to: Int64, limit: Int?) async throws -> [SeriesPoints] {
        selected(selector, from: from, to: to).map { key, points in SeriesPoints(key: key, points: Array(points.prefix(limit ?? .max))) }
    }

    public func downsample(_ selector: SeriesSelector, from: Int64, to: Int64, step: Int64, aggregation: Aggregation) async throws -> [SeriesPoints] {
        selected(selector, from: from, to: to).map { key, points in
            var buckets: [(start: Int64, values: [Double])] = []
            for point in points {
                let start = point.timestamp / step * step
                if buckets.last?.start == start { buckets[buckets.count - 1].values.append(point.value) } else { buckets.append((start, [point.value])) }
            }
            return SeriesPoints(key: key, points: buckets.map { bucket in
                let values = bucket.values
                let value: Double
                switch aggregation {
                case .avg: value = values.reduce(0, +) / Double(values.count)
                case .min: value = values.min()!
                case .max: value = values.max()!
                case .sum: value = values.reduce(0, +)
                case .last: value = values.last!
                case .count: value = Double(values.count)
                }
                return Point(bucket.start, value)
            })
        }
    }

    public func catalog(prefix: String, limit: Int) async throws -> [SeriesInfo] {
        Array(series.withLock { series in
            series.filter { $0.key.metric.hasPrefix(prefix) && !$0.value.isEmpty }
                .map { SeriesInfo(key: $0.key, lastTimestamp: $0.value.keys.max()!) }
                .sorted { ($0.key.metric, LabelJSON.encode($0.key.labels)) < ($1.key.metric, LabelJSON.encode($1.key.labels)) }
        }.prefix(limit))
    }
}
