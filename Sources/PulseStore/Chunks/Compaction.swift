import PulseCore

/// One compaction step: rows of one series moved into chunks, inside the
/// caller's transaction, so that a reader sees the rows or the chunks, never
/// both or neither.
///
/// The rows are merged with the chunks they overlap (and with the series'
/// last chunk when it is short and ends before them), and the result is cut
/// into new chunks: a series' chunks never overlap, and late rows make whole
/// chunks again rather than slivers.
enum Compaction {
    /// Which row table a step empties, and how its rows rank against chunks.
    enum Source {
        /// `head`: rows written after any chunk that holds their ts; they win.
        case head
        /// `samples`, from schema 2: rows written before any chunk; chunks win.
        case legacy
    }

    /// The oldest rows of one series in `source` with ts < `horizon`, at most `limit`, ascending.
    static func rows(
        of source: Source, seriesID: Int64, before horizon: Int64, limit: Int, on connection: SQLiteConnection
    ) throws -> [Point] {
        guard horizon > .min else { return [] }
        switch source {
        case .head:
            return try HeadTable.rows(seriesID: seriesID, from: .min, to: horizon - 1, limit: limit, on: connection)
        case .legacy:
            let statement = try connection.cached(
                "SELECT ts, value FROM samples WHERE series_id = ?1 AND ts < ?2 ORDER BY ts LIMIT ?3"
            )
            defer { statement.reset() }
            statement.bind(seriesID, at: 1)
            statement.bind(horizon, at: 2)
            statement.bind(Int64(limit), at: 3)
            var rows: [Point] = []
            while try statement.step() {
                rows.append(Point(statement.int64(at: 0), statement.double(at: 1)))
            }
            return rows
        }
    }

    /// Deletes the rows of one series in `source` with `from <= ts <= to`; returns how many.
    private static func deleteRows(
        of source: Source, seriesID: Int64, from: Int64, to: Int64, on connection: SQLiteConnection
    ) throws -> Int {
        switch source {
        case .head:
            return try HeadTable.delete(seriesID: seriesID, from: from, to: to, on: connection)
        case .legacy:
            let delete = try connection.cached("DELETE FROM samples WHERE series_id = ?1 AND ts >= ?2 AND ts <= ?3")
            delete.bind(seriesID, at: 1)
            delete.bind(from, at: 2)
            delete.bind(to, at: 3)
            try delete.run()
            return connection.changes
        }
    }

    /// Whether the newest rows of a step, those that would make a short last
    /// chunk, move with the others or wait in the head to fill a whole one later.
    ///
    /// A short chunk packs the chunks' pages badly, and growing it means writing
    /// it again, which leaves a hole on its page (the rows of `chunks` are
    /// appended in rowid order). A live series is compacted a batch at a time,
    /// what `maxHeadWait` brought; when every batch ended in a short chunk, 22 %
    /// of the collector's chunk pages stayed empty, against 13 % with the tail
    /// waiting (the first hour of each, live).
    enum Tail {
        /// Every row moves: `compactAll`, schema 2's rows, raw retention.
        case moves
        /// The short tail waits.
        case waits
        /// The series' rows are overdue: the short tail waits when the step
        /// writes a whole chunk before it, and moves when it is all there is
        /// (a slow series, which would otherwise wait for hours).
        case waitsUnlessAlone
    }

    /// What one step moved.
    struct Moved {
        /// Rows deleted from the source, the oldest of those it was given.
        let rows: Int
        /// What the series stores, once the step commits, over the span the step
        /// read whole: from its rows' first ts (or the first chunk it took, if
        /// earlier) to their last. Rows of schema 2 are not in it.
        let stored: StoredSpan?

        static let none = Moved(rows: 0, stored: nil)
    }

    /// Moves `rows` (every row of `source` for the series between the first's
    /// ts and the last's, ascending) into chunks and deletes them from `source`.
    ///
    /// The newest rows that would make a short last chunk move or wait as `tail` says.
    static func move(
        _ rows: [Point], from source: Source, seriesID: Int64, tail rule: Tail = .moves, policy: ChunkPolicy,
        on connection: SQLiteConnection
    ) throws -> Moved {
        guard let first = rows.first?.timestamp, let last = rows.last?.timestamp else { return .none }
        var replaced: [Int64] = []
        var chunked: [Point] = []
        func take(_ chunk: ChunkTable.Row) throws {
            replaced.append(chunk.rowID)
            chunked.append(contentsOf: try chunk.points(seriesID: seriesID))
        }
        try ChunkTable.last(seriesID: seriesID, before: first, on: connection) { chunk in
            if chunk.bytes.count < policy.maxChunkBytes / 2, chunk.count < policy.maxChunkSamples / 2 { try take(chunk) }
        }
        try ChunkTable.overlapping(seriesID: seriesID, from: first, to: last, on: connection, take)
        let merged = merge(chunked, rows, rowsWin: source == .head)
        var cuts = cut(merged, policy: policy)
        // A short last chunk of rows alone (no chunk's sample in it or after it) may wait.
        if let tail = cuts.last, tail.isShort(policy), merged[tail.range.lowerBound].timestamp > (chunked.last?.timestamp ?? .min) {
            switch rule {
            case .moves: break
            case .waits: cuts.removeLast()
            case .waitsUnlessAlone: if cuts.count > 1 { cuts.removeLast() }
            }
        }
        guard let lastCut = cuts.last else { return .none }
        let moved = min(last, merged[lastCut.range.upperBound - 1].timestamp)

        for rowID in replaced { try ChunkTable.delete(rowID: rowID, on: connection) }
        for cut in cuts {
            try ChunkTable.insert(seriesID: seriesID, samples: merged[cut.range], bytes: cut.bytes, on: connection)
        }
        let deleted = try deleteRows(of: source, seriesID: seriesID, from: first, to: moved, on: connection)
        // No row of the source comes before `first`, and the chunks taken hold every
        // stored sample from their first on; rows after `last` were not read.
        let span = min(first, chunked.first?.timestamp ?? first)...last
        return Moved(rows: deleted, stored: StoredSpan(merged, span: span))
    }

    /// Two ascending runs as one; at a ts both hold, `rows` wins when `rowsWin`.
    static func merge(_ chunked: [Point], _ rows: [Point], rowsWin: Bool) -> [Point] {
        guard !chunked.isEmpty else { return rows }
        var merged: [Point] = []
        merged.reserveCapacity(chunked.count + rows.count)
        var i = 0
        var j = 0
        while i < chunked.count, j < rows.count {
            if chunked[i].timestamp < rows[j].timestamp {
                merged.append(chunked[i]); i += 1
            } else if rows[j].timestamp < chunked[i].timestamp {
                merged.append(rows[j]); j += 1
            } else {
                merged.append(rowsWin ? rows[j] : chunked[i]); i += 1; j += 1
            }
        }
        merged.append(contentsOf: chunked[i...])
        merged.append(contentsOf: rows[j...])
        return merged
    }

    /// One chunk cut from a run of points: which of them, encoded.
    struct Cut {
        let range: Range<Int>
        let bytes: [UInt8]

        /// Room is left in it: neither its samples nor its bytes reached the policy's bounds (90 % of them, for bytes).
        func isShort(_ policy: ChunkPolicy) -> Bool {
            range.count < policy.maxChunkSamples && bytes.count < policy.maxChunkBytes / 10 * 9
        }
    }

    /// `points` cut into chunks of at most `maxChunkSamples` samples and `maxChunkBytes` bytes.
    ///
    /// Encoding is most of a compaction's work, so each chunk is first tried
    /// at the size the previous one's bytes per sample says fills one (the
    /// first at `maxChunkSamples`): noisy values tried at 4,096 samples
    /// encoded six times what a chunk keeps.
    static func cut(_ points: [Point], policy: ChunkPolicy) -> [Cut] {
        var cuts: [Cut] = []
        var start = points.startIndex
        var guess = policy.maxChunkSamples
        while start < points.endIndex {
            let left = points.endIndex - start
            var count = min(guess, left)
            var bytes = encode(points[start..<(start + count)])
            // Too large: shrink in proportion, with a margin, until it fits (two tries, nearly always).
            while bytes.count > policy.maxChunkBytes, count > 1 {
                count = max(1, min(count - 1, filling(policy, count: count, bytes: bytes.count)))
                bytes = encode(points[start..<(start + count)])
            }
            // Short, with more to take (a guess that left room, or a shrink in proportion that fell
            // far short where denser samples meet sparser ones): grown at the density it has,
            // then by halves between what fits and what did not; four tries at most.
            var tooMany: Int?
            for _ in 0..<4 {
                guard count < left, Cut(range: 0..<count, bytes: bytes).isShort(policy) else { break }
                let target = tooMany.map { (count + $0) / 2 }
                    ?? min(policy.maxChunkSamples, left, filling(policy, count: count, bytes: bytes.count))
                guard target > count else { break }
                let larger = encode(points[start..<(start + target)])
                if larger.count <= policy.maxChunkBytes { (count, bytes) = (target, larger) } else { tooMany = target }
            }
            cuts.append(Cut(range: start..<(start + count), bytes: bytes))
            start += count
            // Aimed at 99 % rather than 97 %: a guess from one chunk's density is short as
            // often as it is long, and one at 97 % made 1.5 % more chunks of noisy floats.
            guess = max(1, min(policy.maxChunkSamples, filling(policy, count: count, bytes: bytes.count, of: 0.99)))
        }
        return cuts
    }

    /// How many samples fill the fraction `of` a chunk's bytes, at the density of `count` samples in `bytes`.
    /// A chunk's first sample and its checksum take about `chunkOverhead` bytes whatever its size:
    /// counted in, a short chunk's density says too few samples fill one.
    private static func filling(_ policy: ChunkPolicy, count: Int, bytes: Int, of fraction: Double = 0.97) -> Int {
        let room = Double(policy.maxChunkBytes) * fraction - chunkOverhead
        let perSample = max(Double(bytes) - chunkOverhead, 1) / Double(count)
        return Int(min(room / perSample, Double(Int32.max)))
    }

    /// A chunk's sample count, the first ts and value (about 6 and 8 bytes) and the checksum (4).
    private static let chunkOverhead = 20.0

    /// Cuts `points` into chunks and stores them; returns how many.
    static func write(_ points: [Point], seriesID: Int64, policy: ChunkPolicy, on connection: SQLiteConnection) throws -> Int {
        let cuts = cut(points, policy: policy)
        for cut in cuts {
            try ChunkTable.insert(seriesID: seriesID, samples: points[cut.range], bytes: cut.bytes, on: connection)
        }
        return cuts.count
    }

    private static func encode(_ points: ArraySlice<Point>) -> [UInt8] {
        XORChunk.encode(points.lazy.map { (timestamp: $0.timestamp, value: $0.value) })
    }
}
