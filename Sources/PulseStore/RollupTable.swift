import PulseCore

/// The SQL of the `rollups_1m` table: one `MinuteRollup` per series and minute.
///
/// The writer keeps it in the same transaction as the raw rows it summarises,
/// so a reader sees both or neither.
enum RollupTable {
    /// The rollup of one series and minute, if stored.
    static func load(seriesID: Int64, minute: Int64, on connection: SQLiteConnection) throws -> MinuteRollup? {
        let statement = try connection.cached("""
            SELECT count, sum, min, max, last, last_ts FROM rollups_1m WHERE series_id = ?1 AND bucket = ?2
            """)
        defer { statement.reset() }
        statement.bind(seriesID, at: 1)
        statement.bind(minute, at: 2)
        return try statement.step() ? rollup(statement, from: 0) : nil
    }

    /// The newest rollup of one series, if it has any.
    static func newest(seriesID: Int64, on connection: SQLiteConnection) throws -> (Int64, MinuteRollup)? {
        let statement = try connection.cached("""
            SELECT bucket, count, sum, min, max, last, last_ts FROM rollups_1m
            WHERE series_id = ?1 ORDER BY bucket DESC LIMIT 1
            """)
        defer { statement.reset() }
        statement.bind(seriesID, at: 1)
        return try statement.step() ? (statement.int64(at: 0), rollup(statement, from: 1)) : nil
    }

    static func store(_ rollup: MinuteRollup, seriesID: Int64, minute: Int64, on connection: SQLiteConnection) throws {
        let statement = try connection.cached("""
            INSERT INTO rollups_1m(series_id, bucket, count, sum, min, max, last, last_ts)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
            ON CONFLICT(series_id, bucket) DO UPDATE SET
                count = excluded.count, sum = excluded.sum, min = excluded.min, max = excluded.max,
                last = excluded.last, last_ts = excluded.last_ts
            """)
        statement.bind(seriesID, at: 1)
        statement.bind(minute, at: 2)
        statement.bind(rollup.count, at: 3)
        statement.bind(rollup.sum, at: 4)
        statement.bind(rollup.min, at: 5)
        statement.bind(rollup.max, at: 6)
        statement.bind(rollup.last, at: 7)
        statement.bind(rollup.lastTimestamp, at: 8)
        try statement.run()
    }

    /// The rollups of one series for the minutes starting in `firstMinute...lastMinute`, ascending.
    static func range(
        seriesID: Int64, firstMinute: Int64, lastMinute: Int64, on connection: SQLiteConnection,
        _ body: (_ minute: Int64, MinuteRollup) -> Void
    ) throws {
        let statement = try connection.cached("""
            SELECT bucket, count, sum, min, max, last, last_ts FROM rollups_1m
            WHERE series_id = ?1 AND bucket >= ?2 AND bucket <= ?3 ORDER BY bucket
            """)
        defer { statement.reset() }
        statement.bind(seriesID, at: 1)
        statement.bind(firstMinute, at: 2)
        statement.bind(lastMinute, at: 3)
        while try statement.step() {
            body(statement.int64(at: 0), rollup(statement, from: 1))
        }
    }

    /// Folds the stored samples (`StoredPoints`) of one series with `from <= ts <= to` into per-minute
    /// rollups, calling `body` once per non-empty minute, ascending.
    static func foldRaw(
        seriesID: Int64, from: Int64, to: Int64, on connection: SQLiteConnection,
        _ body: (_ minute: Int64, MinuteRollup) -> Void
    ) throws {
        try withoutActuallyEscaping(body) { body in
            var folder = MinuteFolder(body)
            try StoredPoints.forEach(seriesID: seriesID, from: from, to: to, on: connection) { timestamp, value in
                folder.add(timestamp: timestamp, value: value)
                return true
            }
            folder.finish()
        }
    }

    /// The rollup of one series and minute computed from its raw rows (nil when it has none).
    static func recompute(seriesID: Int64, minute: Int64, on connection: SQLiteConnection) throws -> MinuteRollup? {
        var result: MinuteRollup?
        try foldRaw(seriesID: seriesID, from: minute, to: minute + MinuteRollup.resolution - 1, on: connection) { _, rollup in
            result = rollup
        }
        return result
    }

    private static func rollup(_ statement: SQLiteStatement, from column: Int32) -> MinuteRollup {
        MinuteRollup(
            count: statement.int64(at: column),
            sum: statement.double(at: column + 1),
            min: statement.double(at: column + 2),
            max: statement.double(at: column + 3),
            last: statement.double(at: column + 4),
            lastTimestamp: statement.int64(at: column + 5)
        )
    }
}
