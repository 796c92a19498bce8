import PulseCore

/// The stored samples of one series in a time range, wherever they are,
/// merged in ts order. Three places can hold a sample:
///
/// - `head`: rows written since the last compaction (`HeadTable`);
/// - `chunks`: compressed runs of samples (`ChunkTable`);
/// - `samples`: rows written by a Pulsegate before chunks (schema 2), which
///   the writer moves into chunks in the background (`LegacyRows`).
///
/// At a ts that more than one holds, the latest write wins, and the places
/// are in that order: a head row was written after any chunk that holds its
/// ts (compaction deletes the head rows it folds in), and a chunk's sample
/// after any legacy row of its ts (migration deletes the rows it moves). So an
/// overwrite of a compacted sample is answered before the compactor folds it in.
enum StoredPoints {
    /// Calls `body` with each sample of the series with `from <= ts <= to`, in
    /// ts order, until it returns false.
    static func forEach(
        seriesID: Int64, from: Int64, to: Int64, on connection: SQLiteConnection,
        _ body: (_ timestamp: Int64, _ value: Double) throws -> Bool
    ) throws {
        let legacy = try LegacyRowCursor(seriesID: seriesID, from: from, to: to, on: connection)
        defer { legacy.close() }
        var head = try HeadTable.Cursor(seriesID: seriesID, from: from, to: to, on: connection)
        defer { head.close() }
        var pendingLegacy = try legacy.next()
        var pendingHead = try head.next()
        var going = true

        /// Hands on every row before `timestamp` (every one left, for nil);
        /// then returns the head's value at `timestamp`, if it holds one, and
        /// drops a legacy row there (older than the chunk's sample).
        func drainRows(before timestamp: Int64?) throws -> Double? {
            let limit = timestamp ?? .max
            while going {
                let legacyTS = pendingLegacy?.timestamp ?? .max
                let headTS = pendingHead?.timestamp ?? .max
                let earliest = min(legacyTS, headTS)
                if earliest >= limit { break }
                if headTS == earliest {
                    going = try body(earliest, pendingHead!.value)
                    pendingHead = try head.next()
                } else {
                    going = try body(earliest, pendingLegacy!.value)
                }
                if legacyTS == earliest { pendingLegacy = try legacy.next() }
            }
            guard going, let timestamp else { return nil }
            if pendingLegacy?.timestamp == timestamp { pendingLegacy = try legacy.next() }
            guard let row = pendingHead, row.timestamp == timestamp else { return nil }
            pendingHead = try head.next()
            return row.value
        }

        try ChunkTable.overlapping(seriesID: seriesID, from: from, to: to, on: connection) { chunk in
            guard going else { return }
            var decoder = try decoder(for: chunk, seriesID: seriesID)
            while going, let sample = try next(from: &decoder, chunk: chunk, seriesID: seriesID), sample.timestamp <= to {
                if sample.timestamp < from { continue }
                let overwrite = try drainRows(before: sample.timestamp)
                guard going else { break }
                going = try body(sample.timestamp, overwrite ?? sample.value)
            }
        }
        _ = try drainRows(before: nil)
    }

    /// The samples of the series with `from <= ts <= to`, ascending; at most `limit` when given.
    static func points(seriesID: Int64, from: Int64, to: Int64, limit: Int? = nil, on connection: SQLiteConnection) throws -> [Point] {
        var points: [Point] = []
        guard limit.map({ $0 > 0 }) ?? true else { return points }
        try forEach(seriesID: seriesID, from: from, to: to, on: connection) { timestamp, value in
            points.append(Point(timestamp, value))
            return limit.map { points.count < $0 } ?? true
        }
        return points
    }

    private static func decoder(for chunk: ChunkTable.Row, seriesID: Int64) throws -> XORChunk.Decoder {
        do {
            return try XORChunk.Decoder(chunk.bytes)
        } catch {
            throw CorruptChunkError(seriesID: seriesID, firstTimestamp: chunk.firstTimestamp, reason: error)
        }
    }

    private static func next(
        from decoder: inout XORChunk.Decoder, chunk: ChunkTable.Row, seriesID: Int64
    ) throws -> (timestamp: Int64, value: Double)? {
        do {
            return try decoder.next()
        } catch {
            throw CorruptChunkError(seriesID: seriesID, firstTimestamp: chunk.firstTimestamp, reason: error)
        }
    }
}

/// The rows of one series in a range of schema 2's `samples`, ascending.
private struct LegacyRowCursor {
    private let statement: SQLiteStatement

    init(seriesID: Int64, from: Int64, to: Int64, on connection: SQLiteConnection) throws {
        statement = try connection.cached(
            "SELECT ts, value FROM samples WHERE series_id = ?1 AND ts >= ?2 AND ts <= ?3 ORDER BY ts"
        )
        statement.bind(seriesID, at: 1)
        statement.bind(from, at: 2)
        statement.bind(to, at: 3)
    }

    func next() throws -> Point? {
        try statement.step() ? Point(statement.int64(at: 0), statement.double(at: 1)) : nil
    }

    func close() {
        statement.reset()
    }
}

/// A chunk whose bytes do not decode: the file was damaged outside SQLite's
/// own checks. Reads of its range fail with this rather than answer wrong numbers.
public struct CorruptChunkError: Error, Sendable, CustomStringConvertible {
    public let seriesID: Int64
    public let firstTimestamp: Int64
    public let reason: ChunkError

    public var description: String {
        "the chunk of series \(seriesID) from ts \(firstTimestamp) cannot be read: \(reason)"
    }
}
