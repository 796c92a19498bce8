import PulseCore

/// The SQL of the `head` table: samples written since their series' last
/// compaction, one row each.
///
/// Rows are keyed by (bucket, series, ts), a bucket being 16.384 s of ts
/// (`ts >> bucketShift`), rather than by (series, ts). A commit holds a few
/// samples of each of many series; keyed by series first, each series' rows
/// sit on pages of their own, and a commit of 1,000 series dirtied about
/// 1,000 pages. Keyed by bucket first, the same commit fills a few adjacent
/// pages: on a plain SQLite loop, 4,000-row commits over 1,000 series went
/// from 91k to 494k rows/s, and over 10,000 series from 82k to 355k (16 s
/// buckets kept 4–5× of that; 65 s buckets lost half of it at 10,000 series).
///
/// The price is paid by reads of one series: a seek per occupied bucket of the
/// range. The head holds only what compaction has not yet moved (`ChunkPolicy`),
/// a few hundred buckets at most.
enum HeadTable {
    /// A bucket is 2^14 ms of ts. Schema 4 keys the rows with it: changing it takes a migration.
    static let bucketShift: Int64 = 14

    /// Floors, negative ts included (an arithmetic shift, in Swift as in SQLite).
    static func bucket(of timestamp: Int64) -> Int64 {
        timestamp >> bucketShift
    }

    /// ?1 bucket, ?2 series, ?3 ts, ?4 value. The same series and ts: the later write wins.
    static let insertSQL = """
        INSERT INTO head(bucket, series_id, ts, value) VALUES (?1, ?2, ?3, ?4)
        ON CONFLICT(bucket, series_id, ts) DO UPDATE SET value = excluded.value
        """

    /// The rows of one series with `from <= ts <= to`, ascending, read bucket by bucket.
    /// One cursor per connection at a time: its statements are the connection's cached ones.
    struct Cursor {
        private let seriesID: Int64
        private let from: Int64
        private let to: Int64
        private let rows: SQLiteStatement
        private var buckets: BucketWalk
        private var inBucket = false
        private var foundInBucket = false

        init(seriesID: Int64, from: Int64, to: Int64, on connection: SQLiteConnection) throws {
            self.seriesID = seriesID
            self.from = from
            self.to = to
            rows = try connection.cached("""
                SELECT ts, value FROM head WHERE bucket = ?1 AND series_id = ?2 AND ts >= ?3 AND ts <= ?4 ORDER BY ts
                """)
            buckets = BucketWalk(from: from, to: to, on: connection)
        }

        mutating func next() throws -> Point? {
            while true {
                if inBucket {
                    if try rows.step() {
                        foundInBucket = true
                        return Point(rows.int64(at: 0), rows.double(at: 1))
                    }
                    rows.reset()
                    inBucket = false
                }
                guard let bucket = try buckets.next(lastHadRows: foundInBucket) else { return nil }
                rows.bind(bucket, at: 1)
                rows.bind(seriesID, at: 2)
                rows.bind(from, at: 3)
                rows.bind(to, at: 4)
                inBucket = true
                foundInBucket = false
            }
        }

        func close() {
            rows.reset()
        }
    }

    /// The buckets a read or delete of one series' `from...to` looks in.
    ///
    /// After a bucket that held rows of the series, the next one is tried
    /// straight away: a series' rows fill adjacent buckets, and one seek a
    /// bucket is what a dense series costs. After one that held none, the
    /// walk seeks the next bucket that holds a row of any series, so that a
    /// long empty stretch (a range from `.min`, a gap) costs one seek.
    struct BucketWalk {
        private let connection: SQLiteConnection
        private let last: Int64
        /// The next bucket to try; nil once the range is done.
        private var upcoming: Int64?
        private var started = false

        init(from: Int64, to: Int64, on connection: SQLiteConnection) {
            self.connection = connection
            last = HeadTable.bucket(of: to)
            upcoming = from <= to ? HeadTable.bucket(of: from) : nil
        }

        /// The next bucket to look in, given whether the one before held rows of the series.
        mutating func next(lastHadRows: Bool) throws -> Int64? {
            guard let candidate = upcoming, candidate <= last else { return nil }
            let bucket: Int64
            if started, lastHadRows {
                bucket = candidate
            } else {
                guard let occupied = try HeadTable.occupiedBucket(from: candidate, through: last, on: connection) else {
                    upcoming = nil
                    return nil
                }
                bucket = occupied
            }
            started = true
            upcoming = bucket < Int64.max ? bucket + 1 : nil
            return bucket
        }
    }

    /// The first bucket in `from...through` that holds a row of any series.
    private static func occupiedBucket(from: Int64, through: Int64, on connection: SQLiteConnection) throws -> Int64? {
        guard from <= through else { return nil }
        let statement = try connection.cached("SELECT bucket FROM head WHERE bucket >= ?1 AND bucket <= ?2 ORDER BY bucket LIMIT 1")
        defer { statement.reset() }
        statement.bind(from, at: 1)
        statement.bind(through, at: 2)
        return try statement.step() ? statement.int64(at: 0) : nil
    }

    /// The rows of one series with `from <= ts <= to`, ascending; at most `limit`.
    static func rows(seriesID: Int64, from: Int64, to: Int64, limit: Int = .max, on connection: SQLiteConnection) throws -> [Point] {
        var cursor = try Cursor(seriesID: seriesID, from: from, to: to, on: connection)
        defer { cursor.close() }
        var rows: [Point] = []
        while rows.count < limit, let row = try cursor.next() { rows.append(row) }
        return rows
    }

    /// The minutes (`MinuteRollup.minute`) with head rows of the series with `from <= ts <= to`, ascending.
    static func minutes(seriesID: Int64, from: Int64, to: Int64, on connection: SQLiteConnection) throws -> [Int64] {
        var cursor = try Cursor(seriesID: seriesID, from: from, to: to, on: connection)
        defer { cursor.close() }
        var minutes: [Int64] = []
        while let row = try cursor.next() {
            let minute = MinuteRollup.minute(of: row.timestamp)
            if minutes.last != minute { minutes.append(minute) }
        }
        return minutes
    }

    static func hasRows(seriesID: Int64, on connection: SQLiteConnection) throws -> Bool {
        try !rows(seriesID: seriesID, from: .min, to: .max, limit: 1, on: connection).isEmpty
    }

    /// Deletes the rows of one series with `from <= ts <= to`; returns how many.
    static func delete(seriesID: Int64, from: Int64, to: Int64, on connection: SQLiteConnection) throws -> Int {
        let delete = try connection.cached("DELETE FROM head WHERE bucket = ?1 AND series_id = ?2 AND ts >= ?3 AND ts <= ?4")
        var buckets = BucketWalk(from: from, to: to, on: connection)
        var deleted = 0
        var lastHadRows = false
        while let bucket = try buckets.next(lastHadRows: lastHadRows) {
            delete.bind(bucket, at: 1)
            delete.bind(seriesID, at: 2)
            delete.bind(from, at: 3)
            delete.bind(to, at: 4)
            try delete.run()
            lastHadRows = connection.changes > 0
            deleted += connection.changes
        }
        return deleted
    }

    /// The latest ts in the head of every series that has rows there: one pass
    /// over the head, bucket by bucket (rows of a bucket come in series order).
    static func latestBySeries(on connection: SQLiteConnection) throws -> [Int64: Int64] {
        let statement = try connection.cached("SELECT series_id, max(ts) FROM head GROUP BY bucket, series_id")
        defer { statement.reset() }
        var latest: [Int64: Int64] = [:]
        while try statement.step() {
            let seriesID = statement.int64(at: 0)
            let timestamp = statement.int64(at: 1)
            if timestamp > latest[seriesID] ?? .min { latest[seriesID] = timestamp }
        }
        return latest
    }
}
