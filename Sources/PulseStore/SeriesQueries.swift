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

    /// The stored points of one series with `from <= ts <= to`, ascending; at most
    /// `limit` of them when given (the caller asks one more than it allows, to know).
    static func raw(seriesID: Int64, from: Int64, to: Int64, limit: Int? = nil, on connection: SQLiteConnection) throws -> [Point] {
        try StoredPoints.points(seriesID: seriesID, from: from, to: to, limit: limit, on: connection)
    }

    /// Series whose metric starts with `prefix`, sorted, with their latest sample's ts
    /// (series without samples, e.g. after retention, are left out); at most `limit`.
    static func catalog(prefix: String, limit: Int, on connection: SQLiteConnection) throws -> [SeriesInfo] {
        // A range on the (metric, labels) index instead of LIKE, whose wildcards a prefix could contain.
        let statement = try connection.cached("""
            SELECT id, metric, labels FROM series
            WHERE metric >= ?1 AND (?2 = '' OR metric < ?2)
            ORDER BY metric, labels
            """)
        defer { statement.reset() }
        statement.bind(prefix, at: 1)
        statement.bind(PrefixRange.upperBound(of: prefix), at: 2)
        var found: [SeriesInfo] = []
        let headLatest = try HeadTable.latestBySeries(on: connection)
        while found.count < limit, try statement.step() {
            guard let labels = LabelJSON.decode(statement.string(at: 2)) else { continue }
            let id = statement.int64(at: 0)
            guard let latest = try latestTimestamp(seriesID: id, headLatest: headLatest[id], on: connection) else { continue }
            found.append(SeriesInfo(key: SeriesKey(metric: statement.string(at: 1), labels: labels), lastTimestamp: latest))
        }
        return found
    }

    /// The ts of the series' latest stored sample, wherever it is, given the
    /// head's (`HeadTable.latestBySeries`: one pass for every series asked).
    static func latestTimestamp(seriesID: Int64, headLatest: Int64?, on connection: SQLiteConnection) throws -> Int64? {
        var latest = try ChunkTable.latestTimestamp(seriesID: seriesID, on: connection)
        if let headLatest { latest = max(latest ?? .min, headLatest) }
        let statement = try connection.cached("SELECT ts FROM samples WHERE series_id = ?1 ORDER BY ts DESC LIMIT 1")
        defer { statement.reset() }
        statement.bind(seriesID, at: 1)
        if try statement.step() { latest = max(latest ?? .min, statement.int64(at: 0)) }
        return latest
    }

    /// One point per non-empty bucket of `step` ms, for the samples with
    /// `from <= ts <= to`. A bucket starts at a multiple of `step` (so repeated
    /// queries do not shift) and its point carries that start as its time.
    ///
    /// A step of whole minutes is computed from per-minute rollups (see
    /// `downsampledByMinutes`); any other step by folding the stored samples.
    static func downsampled(
        seriesID: Int64, from: Int64, to: Int64, step: Int64, aggregation: Aggregation,
        useRollups: Bool = true, rawFloor: Int64, on connection: SQLiteConnection
    ) throws -> [Point] {
        if step % MinuteRollup.resolution == 0 {
            return try downsampledByMinutes(
                seriesID: seriesID, from: from, to: to, step: step, aggregation: aggregation,
                useRollups: useRollups, rawFloor: rawFloor, on: connection
            )
        }
        // Each bucket folds its samples in ts order as SQLite's aggregates did
        // over the rows (a plain running sum; the first of equal minima or
        // maxima kept), so that answers did not change when rows became chunks.
        // Timestamps are never negative (the model refuses them), so integer
        // division rounds down and buckets align.
        var buckets: [(start: Int64, rollup: MinuteRollup)] = []
        try StoredPoints.forEach(seriesID: seriesID, from: from, to: to, on: connection) { timestamp, value in
            let start = timestamp / step * step
            if let last = buckets.indices.last, buckets[last].start == start {
                buckets[last].rollup.add(timestamp: timestamp, value: value)
            } else {
                buckets.append((start, MinuteRollup(timestamp: timestamp, value: value)))
            }
            return true
        }
        return buckets.map { Point($0.start, $0.rollup.value(aggregation)) }
    }

    /// Buckets made of per-minute rollups: the stored ones for the minutes that
    /// lie wholly inside the range and, for the partial minutes at its edges
    /// and the minutes that still hold head rows (whose rollups are written as
    /// those rows leave the head), rollups folded from the samples there.
    /// Without `useRollups`, every minute is folded from the samples: the same
    /// arithmetic in the same order, so the same bits, only slower.
    static func downsampledByMinutes(
        seriesID: Int64, from: Int64, to: Int64, step: Int64, aggregation: Aggregation,
        useRollups: Bool, rawFloor: Int64, on connection: SQLiteConnection
    ) throws -> [Point] {
        var buckets = BucketFolder(step: step)
        let split = MinuteSplit(from: from, to: to)
        if useRollups, let whole = split.wholeMinutes {
            if let leading = split.leadingRaw {
                try RollupTable.foldRaw(seriesID: seriesID, from: leading.lowerBound, to: leading.upperBound, on: connection) { buckets.add($0, $1) }
            }
            let held = try HeadTable.minutes(
                seriesID: seriesID, from: whole.lowerBound, to: whole.upperBound + MinuteRollup.resolution - 1, on: connection
            )
            var pending: [(minute: Int64, rollup: MinuteRollup)] = []
            try RollupTable.pending(minutes: held, seriesID: seriesID, rawFloor: rawFloor, on: connection) { pending.append(($0, $1)) }
            let heldMinutes = Set(held)
            var next = 0
            try RollupTable.range(seriesID: seriesID, firstMinute: whole.lowerBound, lastMinute: whole.upperBound, on: connection) { minute, rollup in
                while next < pending.count, pending[next].minute < minute {
                    buckets.add(pending[next].minute, pending[next].rollup)
                    next += 1
                }
                if !heldMinutes.contains(minute) { buckets.add(minute, rollup) }
            }
            for (minute, rollup) in pending[next...] { buckets.add(minute, rollup) }
            if let trailing = split.trailingRaw {
                try RollupTable.foldRaw(seriesID: seriesID, from: trailing.lowerBound, to: trailing.upperBound, on: connection) { buckets.add($0, $1) }
            }
        } else {
            try RollupTable.foldRaw(seriesID: seriesID, from: from, to: to, on: connection) { buckets.add($0, $1) }
        }
        return buckets.points(aggregation)
    }
}
