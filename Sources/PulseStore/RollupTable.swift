import PulseCore

/// The SQL of the `rollups_1m` table: one `MinuteRollup` per series and minute.
///
/// A minute's rollup is written when its samples leave the head: by the
/// compaction that moves them into chunks (or the raw retention that would
/// delete them), in that same transaction. Commits write none: a commit
/// over many series would otherwise rewrite a rollup row per series, each on
/// its own page. Until then a minute with head rows may have no rollup or an
/// older one, and reads fold it from its samples (`pending`).
///
/// Below the raw floor (minutes whose samples raw retention has deleted) a
/// rollup cannot be folded again: a late sample there is folded into it when
/// it is later than the minute's last one, and otherwise left out.
enum RollupTable {
    /// Moved minutes further apart than this are folded in separate reads
    /// rather than in one over the gap between them.
    private static let runGap: Int64 = 60 * MinuteRollup.resolution
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

    /// Writes the rollups of the minutes that `rows` (of one series, ascending)
    /// leave the head from, once they have moved into chunks, inside the
    /// writer's transaction; returns how many it wrote. A minute that `stored`
    /// covers is folded from it, others from a read of the stored samples.
    static func refresh(
        leaving rows: ArraySlice<Point>, seriesID: Int64, rawFloor: Int64, stored: StoredSpan? = nil, on connection: SQLiteConnection
    ) throws -> Int {
        var written = 0
        var index = rows.startIndex
        while index < rows.endIndex {
            let minute = MinuteRollup.minute(of: rows[index].timestamp)
            if minute >= rawFloor, let stored, stored.covers(minute: minute) {
                if let rollup = MinuteRollup(folding: stored.points(inMinute: minute).lazy.map { ($0.timestamp, $0.value) }) {
                    try store(rollup, seriesID: seriesID, minute: minute, on: connection)
                    written += 1
                }
                while index < rows.endIndex, MinuteRollup.minute(of: rows[index].timestamp) == minute { index += 1 }
                continue
            }
            if minute < rawFloor {
                var end = index
                while end < rows.endIndex, MinuteRollup.minute(of: rows[end].timestamp) == minute { end += 1 }
                if var rollup = try load(seriesID: seriesID, minute: minute, on: connection) {
                    for row in rows[index..<end] where row.timestamp > rollup.lastTimestamp {
                        rollup.add(timestamp: row.timestamp, value: row.value)
                    }
                    try store(rollup, seriesID: seriesID, minute: minute, on: connection)
                    written += 1
                } else {
                    written += try foldAndStore(minutes: [minute], seriesID: seriesID, on: connection)
                }
                index = end
                continue
            }
            var minutes = [minute]
            while index < rows.endIndex {
                let next = MinuteRollup.minute(of: rows[index].timestamp)
                if next != minutes.last! {
                    if next - minutes.last! > runGap || stored?.covers(minute: next) == true { break }
                    minutes.append(next)
                }
                index += 1
            }
            written += try foldAndStore(minutes: minutes, seriesID: seriesID, on: connection)
        }
        return written
    }

    /// Stores the rollup of each of `minutes` (ascending, close together), folded
    /// from the samples in one read; returns how many.
    private static func foldAndStore(minutes: [Int64], seriesID: Int64, on connection: SQLiteConnection) throws -> Int {
        var folded: [(minute: Int64, rollup: MinuteRollup)] = []
        try fold(minutes: minutes, seriesID: seriesID, on: connection) { folded.append(($0, $1)) }
        for (minute, rollup) in folded { try store(rollup, seriesID: seriesID, minute: minute, on: connection) }
        return folded.count
    }

    /// Folds the samples over `minutes` (ascending, close together) in one read;
    /// `body` gets the rollup of each of them that has samples, ascending.
    private static func fold(
        minutes: [Int64], seriesID: Int64, on connection: SQLiteConnection, _ body: (_ minute: Int64, MinuteRollup) -> Void
    ) throws {
        var wanted = minutes.makeIterator()
        var next = wanted.next()
        try foldRaw(seriesID: seriesID, from: minutes.first!, to: minutes.last! + MinuteRollup.resolution - 1, on: connection) { minute, rollup in
            while let candidate = next, candidate < minute { next = wanted.next() }
            if next == minute { body(minute, rollup) }
        }
    }

    /// The rollups of `minutes` (ascending), minutes that still hold head rows
    /// of the series, as the writer will store them once those rows leave the
    /// head; `body` gets them in ascending order (a minute without samples is skipped).
    static func pending(
        minutes: [Int64], seriesID: Int64, rawFloor: Int64, on connection: SQLiteConnection,
        _ body: (_ minute: Int64, MinuteRollup) -> Void
    ) throws {
        var index = 0
        while index < minutes.count {
            let minute = minutes[index]
            if minute < rawFloor, var rollup = try load(seriesID: seriesID, minute: minute, on: connection) {
                let held = try HeadTable.rows(seriesID: seriesID, from: minute, to: minute + MinuteRollup.resolution - 1, on: connection)
                for row in held where row.timestamp > rollup.lastTimestamp {
                    rollup.add(timestamp: row.timestamp, value: row.value)
                }
                body(minute, rollup)
                index += 1
                continue
            }
            var run = [minute]
            index += 1
            while index < minutes.count, minutes[index] >= rawFloor, minutes[index] - run.last! <= runGap {
                run.append(minutes[index])
                index += 1
            }
            try fold(minutes: run, seriesID: seriesID, on: connection, body)
        }
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
