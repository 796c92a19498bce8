/// When the writer moves head rows into chunks, and how large it makes them.
///
/// Not user configuration: these follow from SQLite's page size and the
/// codec's measured behaviour (`pulsegate-bench chunk-codec`, README). Tests
/// shrink them to make compaction happen in a few samples.
struct ChunkPolicy: Sendable {
    /// A chunk's encoded bytes, at most. Chunk rows are appended to a rowid
    /// table, which fills each page with as many as fit: rows of up to a
    /// quarter page leave little of a page empty, also beside the short last
    /// chunk of a series (chunks of up to 4 KB, one a page, made a file 12 %
    /// larger on gauges and counters: `pulsegate-bench storage`).
    var maxChunkBytes = 1_000
    /// Samples in a chunk, at most, so that a read of a short range decodes
    /// few it does not need (a constant series takes a fraction of a byte each).
    var maxChunkSamples = 4_096
    /// Head rows moved by one compaction transaction, at most: it holds the
    /// write lock while it runs.
    var rowsPerCompaction = 4_096
    /// Series moved by one compaction transaction, at most; a step takes more
    /// than one only while no commit is due (`StoreWriter`). The head keeps
    /// neighbouring series' rows of a time bucket on the same pages
    /// (`HeadTable`), so the deletes of several series in one transaction
    /// write each page to the log once rather than once a series. Writing
    /// 100 series × 50,000 s and compacting all of it took 9.6–9.9 s at 8
    /// series a step against 12.0–13.1 s at 1 (2: 10.7, 4: 10.1–10.6, 16:
    /// 9.2–9.3 s); the longest step grew from 4–7 ms to 22–39 ms (16: 44–50).
    var seriesPerCompaction = 8
    /// Rows newer than this (by ts, against the wall clock) stay in the head,
    /// so that the late and out-of-order samples of live sources land in rows
    /// rather than in chunks to re-encode.
    var headSpan: Int64 = 5 * 60_000
    /// A series is compacted once it has `rowsPerCompaction` rows older than
    /// `headSpan`, or once its oldest head row has waited this long (wall
    /// clock): slow series, and overwrites of compacted windows, are folded in
    /// a batch at a time rather than chunk by chunk.
    var maxHeadWait: Duration = .seconds(15 * 60)

    static let standard = ChunkPolicy()
}
