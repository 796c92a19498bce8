import PulseCore

/// One step of raw retention for one series, inside the caller's transaction:
/// its samples before a cutoff go from the head (by way of chunks), from
/// schema 2's rows and from its chunks. A chunk that holds samples on both
/// sides of the cutoff is cut (decoded, and its newer samples written again),
/// so that reads below the cutoff find nothing raw, as they did when every
/// sample was a row.
enum RawRetention {
    /// Moves at most `limit` head rows into chunks, or else deletes at most
    /// `limit` of schema 2's rows and whole chunks of at most `limit` samples
    /// (one chunk at least); returns the samples deleted and whether the series
    /// has nothing left before `cutoff`.
    static func step(
        seriesID: Int64, before cutoff: Int64, limit: Int, policy: ChunkPolicy, rollupFloor: Int64, on connection: SQLiteConnection
    ) throws -> (deleted: Int, done: Bool) {
        var deleted = 0
        var done = true
        // Head rows before the cutoff move into chunks first, their minutes rolled up
        // as compaction rolls them up, so that those minutes keep rollups once the
        // chunks go (a step of its own; the chunks go in the next).
        let held = try HeadTable.rows(seriesID: seriesID, from: .min, to: cutoff - 1, limit: limit, on: connection)
        if !held.isEmpty {
            let moved = try Compaction.move(held, from: .head, seriesID: seriesID, policy: policy, on: connection).rows
            _ = try RollupTable.refresh(leaving: held.prefix(moved), seriesID: seriesID, rawFloor: rollupFloor, on: connection)
            if moved > 0 { return (0, false) }
        }
        let legacy = try connection.cached("""
            DELETE FROM samples WHERE series_id = ?1 AND ts IN
                (SELECT ts FROM samples WHERE series_id = ?1 AND ts < ?2 ORDER BY ts LIMIT ?3)
            """)
        legacy.bind(seriesID, at: 1)
        legacy.bind(cutoff, at: 2)
        legacy.bind(Int64(limit), at: 3)
        try legacy.run()
        deleted += connection.changes
        if connection.changes >= limit { done = false }

        var whole: [(rowID: Int64, count: Int64)] = []
        let old = try connection.cached("""
            SELECT rowid, count FROM chunks WHERE series_id = ?1 AND last_ts < ?2 ORDER BY last_ts
            """)
        old.bind(seriesID, at: 1)
        old.bind(cutoff, at: 2)
        var samples: Int64 = 0
        while try old.step() {
            if !whole.isEmpty, samples + old.int64(at: 1) > Int64(limit) {
                done = false
                break
            }
            whole.append((old.int64(at: 0), old.int64(at: 1)))
            samples += old.int64(at: 1)
        }
        old.reset()
        for chunk in whole { try ChunkTable.delete(rowID: chunk.rowID, on: connection) }
        deleted += Int(samples)

        // The one chunk that can straddle the cutoff: it ends at or after it.
        var straddling: (rowID: Int64, kept: [Point], dropped: Int)?
        try ChunkTable.overlapping(seriesID: seriesID, from: cutoff, to: cutoff, on: connection) { chunk in
            guard chunk.firstTimestamp < cutoff else { return }
            let points = try chunk.points(seriesID: seriesID)
            let kept = points.filter { $0.timestamp >= cutoff }
            let dropped = points.count - kept.count
            straddling = (chunk.rowID, kept, dropped)
        }
        if let straddling {
            try ChunkTable.delete(rowID: straddling.rowID, on: connection)
            _ = try Compaction.write(straddling.kept, seriesID: seriesID, policy: policy, on: connection)
            deleted += straddling.dropped
        }
        return (deleted, done)
    }

    /// The raw floor of a file just opened: the writer raises it as retention
    /// runs, but a new process has not run any yet, and its retention may be
    /// longer than the last one's. Below the floor a minute's rollup holds
    /// samples that are gone, so a late sample there is folded into it rather
    /// than the minute folded again from what is stored (`RollupTable`).
    ///
    /// It is the oldest minute that still has samples in chunks or schema 2's
    /// rows, unless no rollup is that recent: every minute with a rollup and no
    /// samples left lies below it (retention deletes the oldest first), and
    /// every minute with stored samples at or above it. Head rows do not count:
    /// a late sample below the old floor waits there. With no rollup at all
    /// there is nothing to protect, and the floor is 0. A lookup per series in
    /// each table's index, not a scan of the chunks.
    static func floor(on connection: SQLiteConnection) throws -> Int64 {
        let statement = try connection.prepare("""
            SELECT
                (SELECT min(first) FROM (
                    SELECT (SELECT first_ts FROM chunks WHERE series_id = s.id ORDER BY last_ts LIMIT 1) AS first FROM series s
                    UNION ALL
                    SELECT (SELECT ts FROM samples WHERE series_id = s.id ORDER BY ts LIMIT 1) FROM series s)),
                (SELECT max((SELECT bucket FROM rollups_1m WHERE series_id = s.id ORDER BY bucket DESC LIMIT 1)) FROM series s)
            """)
        guard try statement.step(), !statement.isNull(at: 1) else { return 0 }
        let afterNewestRollup = statement.int64(at: 1) + MinuteRollup.resolution
        if statement.isNull(at: 0) { return afterNewestRollup }
        return min(MinuteRollup.minute(of: statement.int64(at: 0)), afterNewestRollup)
    }
}
