import Logging
import PostgresNIO
import PulseCore

/// One write transaction of the cluster's store: the samples of a batch, the
/// series they need, the rollups of the minutes they touch, and the batch's
/// place in the global stream (its frame in the replay log, and a NOTIFY to
/// every node), all or nothing.
///
/// Transactions of several nodes run side by side until their last statement,
/// which takes the stream head's row lock and the next sequence number, logs
/// the frame and notifies, in one round trip; the lock is held to the COMMIT.
/// So seq order is commit order, a rollback gives the number back, and the
/// head is held only as long as that statement and the COMMIT take.
///
/// What two transactions could race on is locked row by row, always in the
/// same order (so that they wait for each other, never deadlock): the sample
/// rows they overwrite, sorted by series and ts, then the rollup rows of the
/// minutes they touch, sorted likewise, read locked before being folded and
/// written back. A rollup is folded only from samples after its last one,
/// else recomputed from the raw rows, which by then include every committed
/// transaction's and this one's. PostgreSQL delivers notifications at commit,
/// in commit order.
struct WriteTransaction {
    let connection: PostgresConnection
    let logger: Logger

    /// The channel every node LISTENs on.
    static let channel = "pulsegate_stream"
    /// A frame larger than this goes in the log only; the notification carries its seq
    /// (PostgreSQL refuses payloads of 8,000 bytes or more).
    static let maxNotifiedFrameBytes = 7_000

    /// One caller's samples, with the key it wrote them under, if any.
    struct Write {
        let samples: [Sample]
        let key: IdempotencyKey?
    }

    /// What the transaction did, for the caller's caches and statistics.
    struct Outcome {
        /// The batch as the stream carries it; nil when every write was a duplicate.
        var batch: PublishedBatch?
        /// Per write, in order: stored, or a duplicate of a keyed write stored before.
        var receipts: [WriteReceipt] = []
        var newSeries: [SeriesKey: Int64] = [:]
        var newPartitions: Set<DayPartition> = []
        var rowsWritten = 0
        var rollupsWritten = 0
        var rollupsRecomputed = 0
    }

    /// Writes `samples` (later ones win for the same series and ts). `seriesIDs`
    /// and `partitions` are the caller's caches of what exists.
    /// `serverTime` is the batch's publish time in the stream (ms since the epoch).
    func run(_ writes: [Write], serverTime: Double, seriesIDs: [SeriesKey: Int64], partitions: Set<DayPartition>) async throws -> Outcome {
        var outcome = Outcome()

        // Keyed writes already stored (by any node) store nothing again. A key's row is
        // claimed by inserting it: a transaction that claims the same key meanwhile
        // waits for this one, and finds it stored if this one commits.
        let (known, claimed) = try await claim(writes.compactMap { write in write.key.map { ($0.text, write.samples.count) } })
        var samples: [Sample] = []
        var used = Set<String>()
        for write in writes {
            // A key stored before, or already used earlier in this batch, stores nothing.
            if let key = write.key?.text, !used.insert(key).inserted || !claimed.contains(key) {
                outcome.receipts.append(.duplicate(accepted: known[key] ?? write.samples.count))
                continue
            }
            outcome.receipts.append(.stored)
            samples += write.samples
        }
        guard !samples.isEmpty else { return outcome }

        // Series: intern the unknown ones (a unique key makes concurrent nodes agree on one id).
        var ids = seriesIDs
        let unknown = Array(Set(samples.lazy.map(\.key).filter { ids[$0] == nil }))
        if !unknown.isEmpty {
            let metrics = unknown.map(\.metric), labels = unknown.map(\.labelsJSON)
            try await connection.query("""
                INSERT INTO series(metric, labels) SELECT * FROM unnest(\(metrics)::text[], \(labels)::text[])
                ON CONFLICT (metric, labels) DO NOTHING
                """, logger: logger)
            let rows = try await connection.query("""
                SELECT s.id, s.metric, s.labels FROM series s
                JOIN unnest(\(metrics)::text[], \(labels)::text[]) AS k(metric, labels) ON s.metric = k.metric AND s.labels = k.labels
                """, logger: logger)
            for try await (id, metric, labelText) in rows.decode((Int64, String, String).self) {
                guard let labels = LabelJSON.decode(labelText) else { continue }
                let key = SeriesKey(metric: metric, labels: labels)
                ids[key] = id
                outcome.newSeries[key] = id
            }
        }

        // One row per series and ts, the last written winning (ON CONFLICT may touch a row once per statement).
        var rows: [RowKey: Double] = [:]
        rows.reserveCapacity(samples.count)
        for sample in samples {
            guard let id = ids[sample.key] else { throw WriteTransactionError.seriesNotInterned(sample.key.canonicalText) }
            rows[RowKey(seriesID: id, timestamp: sample.timestamp)] = sample.value
        }

        // Partitions for days not made ahead (backfills, a clock far off), or made
        // since by another node (this node's cache does not know them yet).
        var present = partitions  // the days whose raw rows were there before this transaction
        let missing = Set(rows.keys.lazy.map { DayPartition(containing: $0.timestamp) }).subtracting(partitions)
        if !missing.isEmpty { try await Partitions.lockDDL(on: connection, logger: logger) }
        for day in missing {
            if !(try await Partitions.create(day, on: connection, logger: logger)) { present.insert(day) }
            outcome.newPartitions.insert(day)
        }

        try await insert(rows)
        outcome.rowsWritten = rows.count

        // Rollups: a minute whose new samples all follow its stored rollup folds
        // them in; any other is recomputed from its raw rows, unless retention has
        // dropped its day (a rollup outlives its raw rows, and could no longer be
        // recomputed): then the late sample is left out of it, as in the SQLite store.
        var minutes: [MinuteKey: [(Int64, Double)]] = [:]
        for (row, value) in rows {
            minutes[MinuteKey(seriesID: row.seriesID, minute: MinuteRollup.minute(of: row.timestamp)), default: []].append((row.timestamp, value))
        }
        let stored = try await lockRollups(of: Array(minutes.keys))
        var written: [MinuteKey: MinuteRollup] = [:]
        var recompute: [MinuteKey] = []
        for (key, unsorted) in minutes {
            let points = unsorted.sorted { $0.0 < $1.0 }
            if var rollup = stored[key] {
                if points[0].0 > rollup.lastTimestamp {
                    for (timestamp, value) in points { rollup.add(timestamp: timestamp, value: value) }
                    written[key] = rollup
                } else if present.contains(DayPartition(containing: key.minute)) {
                    recompute.append(key)
                }
            } else {
                written[key] = MinuteRollup(folding: points)
            }
        }
        for (key, rollup) in try await recomputed(recompute) { written[key] = rollup }
        outcome.rollupsRecomputed = recompute.count
        try await store(written)
        outcome.rollupsWritten = written.count

        // The stream, last: the next seq, the frame into the log and the notification
        // to every node (sent at COMMIT), in one statement under the head's lock.
        let tail = LiveFrame.samplesTail(serverTime: serverTime, samples: samples)
        let notifiesFrame = LiveFrame.samplesPrefix.utf8.count + 20 + tail.utf8.count <= Self.maxNotifiedFrameBytes
        let row = try await connection.query("""
            WITH head AS (UPDATE stream_head SET seq = seq + 1 RETURNING seq),
                 logged AS (INSERT INTO frames(seq, frame) SELECT seq, \(LiveFrame.samplesPrefix) || seq || \(tail) FROM head RETURNING seq, frame)
            SELECT seq, pg_notify(\(Self.channel), CASE WHEN \(notifiesFrame) THEN frame ELSE seq::text END)::text FROM logged
            """, logger: logger).collect().first
        guard let (seq, _) = try row?.decode((Int64, String).self) else { throw ClusterError.noStreamHead }
        outcome.batch = PublishedBatch(seq: UInt64(seq), serverTime: serverTime, samples: samples)
        return outcome
    }

    /// Inserts the keys not yet stored; returns what each key's stored write
    /// accepted (this batch's first write under it, for the keys it claimed), and
    /// which keys this transaction claimed.
    private func claim(_ keys: [(String, Int)]) async throws -> (known: [String: Int], claimed: Set<String>) {
        guard !keys.isEmpty else { return ([:], []) }
        var first: [String: Int] = [:]  // a key twice in one batch: its first write counts
        for (key, count) in keys where first[key] == nil { first[key] = count }
        let texts = Array(first.keys).sorted()
        var claimed = Set<String>()
        let rows = try await connection.query("""
            INSERT INTO idempotency_keys(key, accepted) SELECT * FROM unnest(\(texts)::text[], \(texts.map { Int64(first[$0]!) })::bigint[])
            ON CONFLICT (key) DO NOTHING RETURNING key
            """, logger: logger)
        for try await key in rows.decode(String.self) { claimed.insert(key) }
        var known = first.filter { claimed.contains($0.key) }
        let others = texts.filter { !claimed.contains($0) }
        if !others.isEmpty {
            let rows = try await connection.query("SELECT key, accepted FROM idempotency_keys WHERE key = ANY(\(others))", logger: logger)
            for try await (key, accepted) in rows.decode((String, Int64).self) { known[key] = Int(accepted) }
        }
        return (known, claimed)
    }

    struct RowKey: Hashable {
        let seriesID: Int64
        let timestamp: Int64
    }

    struct MinuteKey: Hashable {
        let seriesID: Int64
        let minute: Int64
    }

    /// The rows, in one upsert from three arrays, sorted by key (values bound as
    /// float8 binary: exact bits). Not through COPY: postgres-nio 1.33.2's COPY
    /// writer traps (a precondition, "Copy mode is only supported for extended
    /// queries") when the connection leaves copy mode while it writes, as when
    /// PostgreSQL stops under load, where a query only fails.
    private func insert(_ rows: [RowKey: Double]) async throws {
        let sorted = rows.sorted { ($0.key.seriesID, $0.key.timestamp) < ($1.key.seriesID, $1.key.timestamp) }
        try await connection.query("""
            INSERT INTO samples(series_id, ts, value)
            SELECT * FROM unnest(\(sorted.map(\.key.seriesID))::bigint[], \(sorted.map(\.key.timestamp))::bigint[], \(sorted.map(\.value))::float8[])
            ON CONFLICT (series_id, ts) DO UPDATE SET value = EXCLUDED.value
            """, logger: logger)
    }

    /// Locks the rollup rows of `keys`, in order (a missing one is made, as a
    /// placeholder of count 0 that this transaction replaces), and returns those
    /// stored before. Another transaction that needs one of them waits here until
    /// this one commits, then reads what it wrote.
    private func lockRollups(of keys: [MinuteKey]) async throws -> [MinuteKey: MinuteRollup] {
        guard !keys.isEmpty else { return [:] }
        let sorted = keys.sorted { ($0.seriesID, $0.minute) < ($1.seriesID, $1.minute) }
        let rows = try await connection.query("""
            INSERT INTO rollups_1m(series_id, bucket, count, sum, min, max, last, last_ts)
            SELECT k.series_id, k.bucket, 0, 0, 0, 0, 0, 0
            FROM unnest(\(sorted.map(\.seriesID))::bigint[], \(sorted.map(\.minute))::bigint[]) WITH ORDINALITY AS k(series_id, bucket, n)
            ORDER BY k.n
            ON CONFLICT (series_id, bucket) DO UPDATE SET count = rollups_1m.count
            RETURNING series_id, bucket, count, sum, min, max, last, last_ts
            """, logger: logger)
        var found: [MinuteKey: MinuteRollup] = [:]
        for try await (id, minute, count, sum, min, max, last, lastTimestamp) in rows.decode((Int64, Int64, Int64, Double, Double, Double, Double, Int64).self)
        where count > 0 {
            found[MinuteKey(seriesID: id, minute: minute)] = MinuteRollup(count: count, sum: sum, min: min, max: max, last: last, lastTimestamp: lastTimestamp)
        }
        return found
    }

    /// The rollups of `keys` folded from their raw rows, which now include this batch's.
    private func recomputed(_ keys: [MinuteKey]) async throws -> [MinuteKey: MinuteRollup] {
        guard !keys.isEmpty else { return [:] }
        let rows = try await connection.query("""
            SELECT s.series_id, s.ts, s.value FROM unnest(\(keys.map(\.seriesID))::bigint[], \(keys.map(\.minute))::bigint[]) AS k(series_id, minute)
            JOIN samples s ON s.series_id = k.series_id AND s.ts >= k.minute AND s.ts < k.minute + \(MinuteRollup.resolution)
            ORDER BY s.series_id, s.ts
            """, logger: logger)
        var result: [MinuteKey: MinuteRollup] = [:]
        var series: Int64 = -1
        var folder = MinuteFolder { _, _ in }
        for try await (id, timestamp, value) in rows.decode((Int64, Int64, Double).self) {
            if id != series {
                folder.finish()
                series = id
                folder = MinuteFolder { [id] minute, rollup in result[MinuteKey(seriesID: id, minute: minute)] = rollup }
            }
            folder.add(timestamp: timestamp, value: value)
        }
        folder.finish()
        return result
    }

    private func store(_ rollups: [MinuteKey: MinuteRollup]) async throws {
        guard !rollups.isEmpty else { return }
        let keys = Array(rollups.keys), values = keys.map { rollups[$0]! }
        try await connection.query("""
            INSERT INTO rollups_1m(series_id, bucket, count, sum, min, max, last, last_ts)
            SELECT * FROM unnest(
                \(keys.map(\.seriesID))::bigint[], \(keys.map(\.minute))::bigint[], \(values.map(\.count))::bigint[],
                \(values.map(\.sum))::float8[], \(values.map(\.min))::float8[], \(values.map(\.max))::float8[],
                \(values.map(\.last))::float8[], \(values.map(\.lastTimestamp))::bigint[])
            ON CONFLICT (series_id, bucket) DO UPDATE SET
                count = EXCLUDED.count, sum = EXCLUDED.sum, min = EXCLUDED.min, max = EXCLUDED.max,
                last = EXCLUDED.last, last_ts = EXCLUDED.last_ts
            """, logger: logger)
    }
}

enum WriteTransactionError: Error, CustomStringConvertible {
    case seriesNotInterned(String)

    var description: String {
        switch self {
        case let .seriesNotInterned(key): "series \(key) has no id after interning"
        }
    }
}
