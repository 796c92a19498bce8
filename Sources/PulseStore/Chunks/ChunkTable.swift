import PulseCore

/// The SQL of the `chunks` table: each row one series' samples over a time
/// range, compressed (`XORChunk`).
///
/// The chunks of a series never overlap in time (the compactor merges any it
/// would overlap), so ordered by `last_ts` they are ordered by `first_ts` too,
/// and one index on `(series_id, last_ts)` finds the chunks of a range.
enum ChunkTable {
    /// One stored chunk; `bytes` is valid only inside the callback that receives it.
    struct Row {
        let rowID: Int64
        let firstTimestamp: Int64
        let lastTimestamp: Int64
        let count: Int64
        let bytes: UnsafeRawBufferPointer

        /// Every sample of the chunk, decoded.
        func points(seriesID: Int64) throws(CorruptChunkError) -> [Point] {
            var points: [Point] = []
            do {
                var decoder = try XORChunk.Decoder(bytes)
                points.reserveCapacity(decoder.count)
                while let sample = try decoder.next() { points.append(Point(sample.timestamp, sample.value)) }
            } catch {
                throw CorruptChunkError(seriesID: seriesID, firstTimestamp: firstTimestamp, reason: error)
            }
            return points
        }
    }

    /// The chunks of one series that hold samples in `from...to`, ascending.
    static func overlapping(
        seriesID: Int64, from: Int64, to: Int64, on connection: SQLiteConnection, _ body: (Row) throws -> Void
    ) throws {
        let statement = try connection.cached("""
            SELECT rowid, first_ts, last_ts, count, data FROM chunks
            WHERE series_id = ?1 AND last_ts >= ?2 ORDER BY last_ts
            """)
        defer { statement.reset() }
        statement.bind(seriesID, at: 1)
        statement.bind(from, at: 2)
        // The scan stops at the first chunk past `to` rather than filtering
        // the rest of the series in SQL: every later chunk starts later still.
        while try statement.step() {
            let row = row(statement)
            if row.firstTimestamp > to { break }
            try body(row)
        }
    }

    /// The last chunk of one series that ends before `timestamp`, if any.
    static func last(seriesID: Int64, before timestamp: Int64, on connection: SQLiteConnection, _ body: (Row) throws -> Void) throws {
        let statement = try connection.cached("""
            SELECT rowid, first_ts, last_ts, count, data FROM chunks
            WHERE series_id = ?1 AND last_ts < ?2 ORDER BY last_ts DESC LIMIT 1
            """)
        defer { statement.reset() }
        statement.bind(seriesID, at: 1)
        statement.bind(timestamp, at: 2)
        if try statement.step() { try body(row(statement)) }
    }

    /// The ts of the series' latest chunked sample.
    static func latestTimestamp(seriesID: Int64, on connection: SQLiteConnection) throws -> Int64? {
        let statement = try connection.cached("SELECT last_ts FROM chunks WHERE series_id = ?1 ORDER BY last_ts DESC LIMIT 1")
        defer { statement.reset() }
        statement.bind(seriesID, at: 1)
        return try statement.step() ? statement.int64(at: 0) : nil
    }

    static func insert(seriesID: Int64, samples: ArraySlice<Point>, bytes: [UInt8], on connection: SQLiteConnection) throws {
        let statement = try connection.cached("""
            INSERT INTO chunks(series_id, first_ts, last_ts, count, data) VALUES (?1, ?2, ?3, ?4, ?5)
            """)
        statement.bind(seriesID, at: 1)
        statement.bind(samples.first!.timestamp, at: 2)
        statement.bind(samples.last!.timestamp, at: 3)
        statement.bind(Int64(samples.count), at: 4)
        statement.bind(bytes, at: 5)
        try statement.run()
    }

    static func delete(rowID: Int64, on connection: SQLiteConnection) throws {
        let statement = try connection.cached("DELETE FROM chunks WHERE rowid = ?1")
        statement.bind(rowID, at: 1)
        try statement.run()
    }

    private static func row(_ statement: SQLiteStatement) -> Row {
        Row(
            rowID: statement.int64(at: 0), firstTimestamp: statement.int64(at: 1), lastTimestamp: statement.int64(at: 2),
            count: statement.int64(at: 3), bytes: statement.blob(at: 4)
        )
    }
}
