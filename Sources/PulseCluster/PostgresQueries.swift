import Logging
import PostgresNIO
import PulseCore

/// The read side's SQL: selecting series, raw ranges, downsampled ranges, the
/// catalog. The answers are the SQLite store's for the same data: the same
/// series order, bucket alignment and rollup arithmetic (`MinuteSplit`,
/// `MinuteFolder`, `BucketFolder` from PulseCore).
struct PostgresQueries {
    let client: PostgresClient
    let logger: Logger

    /// The series of `selector.metric` whose labels satisfy the matchers, sorted by key.
    /// Label matching happens in the model, as in the SQLite store ("absent equals empty").
    func series(_ selector: SeriesSelector) async throws -> [(id: Int64, key: SeriesKey)] {
        let rows = try await client.query("SELECT id, labels FROM series WHERE metric = \(selector.metric)", logger: logger)
        var found: [(id: Int64, key: SeriesKey)] = []
        for try await (id, labelText) in rows.decode((Int64, String).self) {
            guard let labels = LabelJSON.decode(labelText) else { continue }
            let key = SeriesKey(metric: selector.metric, labels: labels)
            if selector.matches(key) { found.append((id, key)) }
        }
        return found.sorted { $0.key < $1.key }
    }

    func raw(seriesID: Int64, from: Int64, to: Int64, limit: Int?) async throws -> [Point] {
        let rows = try await client.query("""
            SELECT ts, value FROM samples WHERE series_id = \(seriesID) AND ts >= \(from) AND ts <= \(to) ORDER BY ts LIMIT \(limit.map(Int64.init))
            """, logger: logger)
        var points: [Point] = []
        for try await (timestamp, value) in rows.decode((Int64, Double).self) {
            points.append(Point(timestamp, value))
        }
        return points
    }

    /// One point per non-empty bucket of `step` ms aligned to multiples of `step`:
    /// whole-minute steps from the rollups (raw rows at the edges), others in SQL.
    func downsampled(seriesID: Int64, from: Int64, to: Int64, step: Int64, aggregation: Aggregation) async throws -> [Point] {
        if step % MinuteRollup.resolution == 0 {
            var buckets = BucketFolder(step: step)
            let split = MinuteSplit(from: from, to: to)
            if let leading = split.leadingRaw {
                try await foldRaw(seriesID: seriesID, leading) { buckets.add($0, $1) }
            }
            if let whole = split.wholeMinutes {
                let rows = try await client.query("""
                    SELECT bucket, count, sum, min, max, last, last_ts FROM rollups_1m
                    WHERE series_id = \(seriesID) AND bucket >= \(whole.lowerBound) AND bucket <= \(whole.upperBound) ORDER BY bucket
                    """, logger: logger)
                for try await (minute, count, sum, min, max, last, lastTimestamp) in rows.decode((Int64, Int64, Double, Double, Double, Double, Int64).self) {
                    buckets.add(minute, MinuteRollup(count: count, sum: sum, min: min, max: max, last: last, lastTimestamp: lastTimestamp))
                }
            }
            if let trailing = split.trailingRaw {
                try await foldRaw(seriesID: seriesID, trailing) { buckets.add($0, $1) }
            }
            return buckets.points(aggregation)
        }
        let rows = try await client.query(PostgresQuery(unsafeSQL: Self.downsampleSQL(aggregation), binds: Self.binds(seriesID, from, to, step)), logger: logger)
        var points: [Point] = []
        for try await (bucket, value) in rows.decode((Int64, Double).self) {
            points.append(Point(bucket, value))
        }
        return points
    }

    /// Folds raw rows into per-minute rollups, ascending: the same fold as the writer's.
    private func foldRaw(seriesID: Int64, _ range: ClosedRange<Int64>, _ body: @escaping (Int64, MinuteRollup) -> Void) async throws {
        let rows = try await client.query("""
            SELECT ts, value FROM samples WHERE series_id = \(seriesID) AND ts >= \(range.lowerBound) AND ts <= \(range.upperBound) ORDER BY ts
            """, logger: logger)
        var folder = MinuteFolder(body)
        for try await (timestamp, value) in rows.decode((Int64, Double).self) {
            folder.add(timestamp: timestamp, value: value)
        }
        folder.finish()
    }

    /// The SQL of one aggregation over raw rows. Timestamps are never negative,
    /// so integer division rounds down and buckets align as in the SQLite store.
    static func downsampleSQL(_ aggregation: Aggregation) -> String {
        let value = switch aggregation {
        case .avg: "avg(value)"
        case .min: "min(value)"
        case .max: "max(value)"
        case .sum: "sum(value)"
        case .count: "count(*)::double precision"
        case .last: "(array_agg(value ORDER BY ts DESC))[1]"
        }
        return """
            SELECT (ts / $4) * $4 AS bucket, \(value) FROM samples
            WHERE series_id = $1 AND ts >= $2 AND ts <= $3
            GROUP BY bucket ORDER BY bucket
            """
    }

    private static func binds(_ values: Int64...) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: values.count)
        for value in values { bindings.append(value) }
        return bindings
    }

    /// Series whose metric starts with `prefix`, sorted by metric and labels (bytewise,
    /// as SQLite sorts), with their latest sample's ts; those without samples left out.
    func catalog(prefix: String, limit: Int) async throws -> [SeriesInfo] {
        let upper = PrefixRange.upperBound(of: prefix)
        let rows = try await client.query("""
            SELECT s.metric, s.labels, latest.ts FROM series s
            CROSS JOIN LATERAL (SELECT ts FROM samples WHERE series_id = s.id ORDER BY ts DESC LIMIT 1) AS latest
            WHERE s.metric >= \(prefix) AND (\(upper) = '' OR s.metric < \(upper))
            ORDER BY s.metric, s.labels LIMIT \(Int64(limit))
            """, logger: logger)
        var found: [SeriesInfo] = []
        for try await (metric, labelText, timestamp) in rows.decode((String, String, Int64).self) {
            guard let labels = LabelJSON.decode(labelText) else { continue }
            found.append(SeriesInfo(key: SeriesKey(metric: metric, labels: labels), lastTimestamp: timestamp))
        }
        return found
    }
}
