import PulseCore

/// The read side's SQL: selecting series, raw ranges and downsampled ranges.
///
/// Every function runs on a reader thread with a read-only connection.
enum SeriesQueries {
    /// The series of `selector.metric` whose labels satisfy the matchers, sorted by key.
    /// Label matching happens here rather than in SQL: one metric has few enough
    /// series, and the rule ("absent equals empty") stays in one place, the model.
    static func series(_ selector: SeriesSelector, on connection: SQLiteConnection) throws -> [(id: Int64, key: SeriesKey)] {
        let statement = try connection.cached("SELECT id, labels FROM series WHERE metric = ?1")
        defer { statement.reset() }
        statement.bind(selector.metric, at: 1)
        var found: [(id: Int64, key: SeriesKey)] = []
        while try statement.step() {
            guard let labels = LabelJSON.decode(statement.string(at: 1)) else { continue }
            let key = SeriesKey(metric: selector.metric, labels: labels)
            if selector.matches(key) { found.append((statement.int64(at: 0), key)) }
        }
        return found.sorted { $0.key < $1.key }
    }

    /// Every stored point of one series with `from <= ts <= to`, ascending.
    static func raw(seriesID: Int64, from: Int64, to: Int64, on connection: SQLiteConnection) throws -> [Point] {
        let statement = try connection.cached(
            "SELECT ts, value FROM samples WHERE series_id = ?1 AND ts >= ?2 AND ts <= ?3 ORDER BY ts"
        )
        defer { statement.reset() }
        statement.bind(seriesID, at: 1)
        statement.bind(from, at: 2)
        statement.bind(to, at: 3)
        var points: [Point] = []
        while try statement.step() {
            points.append(Point(statement.int64(at: 0), statement.double(at: 1)))
        }
        return points
    }

    /// One point per non-empty bucket of `step` ms, for the samples with
    /// `from <= ts <= to`. A bucket starts at a multiple of `step` (so repeated
    /// queries do not shift) and its point carries that start as its time.
    static func downsampled(
        seriesID: Int64, from: Int64, to: Int64, step: Int64, aggregation: Aggregation,
        on connection: SQLiteConnection
    ) throws -> [Point] {
        let statement = try connection.cached(downsampleSQL(aggregation))
        defer { statement.reset() }
        statement.bind(seriesID, at: 1)
        statement.bind(from, at: 2)
        statement.bind(to, at: 3)
        statement.bind(step, at: 4)
        var points: [Point] = []
        while try statement.step() {
            points.append(Point(statement.int64(at: 0), statement.double(at: 1)))
        }
        return points
    }

    /// The SQL for one aggregation. Timestamps are never negative (the model
    /// refuses them), so integer division rounds down and buckets align.
    static func downsampleSQL(_ aggregation: Aggregation) -> String {
        let value: String
        switch aggregation {
        case .avg: value = "avg(value)"
        case .min: value = "min(value)"
        case .max: value = "max(value)"
        case .sum: value = "sum(value)"
        case .count: value = "count(*)"
        // SQLite takes a bare column from the row that max() picked: the latest sample.
        case .last: value = "value, max(ts)"
        }
        return """
            SELECT (ts / ?4) * ?4 AS bucket, \(value) FROM samples
            WHERE series_id = ?1 AND ts >= ?2 AND ts <= ?3
            GROUP BY bucket ORDER BY bucket
            """
    }
}
