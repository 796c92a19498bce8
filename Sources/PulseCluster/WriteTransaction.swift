import Logging
import NIOCore
import PostgresNIO
import PulseCore

/// One write transaction of the cluster's store: the samples of a batch, the
/// series they need, the rollups of the minutes they touch, and the batch's
/// place in the global stream (its frame in the replay log, and a NOTIFY to
/// every node), all or nothing.
///
/// It first locks the stream head's row and takes the next sequence number:
/// every write transaction of every node waits there for the one before it to
/// commit, so seq order is commit order, a rollback gives the number back, and
/// the rollups (read, folded, written back) are never raced by another node.
/// PostgreSQL delivers notifications at commit, in commit order.
struct WriteTransaction {
    let connection: PostgresConnection
    let logger: Logger

    /// What the transaction did, for the caller's caches and statistics.
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
        _ = try await connection.query("SELECT seq FROM stream_head FOR UPDATE", logger: logger).collect()

        // Keyed writes already stored (by any node, under this lock) store nothing again.
        var known: [String: Int] = [:]
        let keys = writes.compactMap(\.key?.text)
        if !keys.isEmpty {
            let rows = try await connection.query("SELECT key, accepted FROM idempotency_keys WHERE key = ANY(\(keys))", logger: logger)
            for try await (key, accepted) in rows.decode((String, Int64).self) { known[key] = Int(accepted) }
        }
        var samples: [Sample] = []
        var newKeys: [(String, Int)] = []
        for write in writes {
            if let key = write.key?.text {
                if let accepted = known[key] {
                    outcome.receipts.append(.duplicate(accepted: accepted))
                    continue
                }
                known[key] = write.samples.count
                newKeys.append((key, write.samples.count))
            }
            outcome.receipts.append(.stored)
            samples += write.samples
        }
        guard !samples.isEmpty else { return outcome }
        if !newKeys.isEmpty {
            try await connection.query("""
                INSERT INTO idempotency_keys(key, accepted) SELECT * FROM unnest(\(newKeys.map(\.0))::text[], \(newKeys.map { Int64($0.1) })::bigint[])
                """, logger: logger)
        }
        let seq = try await connection.query("UPDATE stream_head SET seq = seq + 1 RETURNING seq", logger: logger)
            .collect().first?.decode(Int64.self) ?? 0

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

        // Partitions for days not made ahead (backfills, a clock far off).
        for day in Set(rows.keys.lazy.map { DayPartition(containing: $0.timestamp) }) where !partitions.contains(day) {
            try await Partitions.create(day, on: connection, logger: logger)
            outcome.newPartitions.insert(day)
        }

        // Rollups, planned before the rows land: a minute whose new samples all
        // follow its stored rollup folds them in; any other is recomputed after
        // from its raw rows, unless retention has dropped its day (a rollup
        // outlives its raw rows, and could no longer be recomputed): then the
        // late sample is left out of it, as in the SQLite store.
        var minutes: [MinuteKey: [(Int64, Double)]] = [:]
        for (row, value) in rows {
            minutes[MinuteKey(seriesID: row.seriesID, minute: MinuteRollup.minute(of: row.timestamp)), default: []].append((row.timestamp, value))
        }
        let stored = try await storedRollups(of: Array(minutes.keys))
        var written: [MinuteKey: MinuteRollup] = [:]
        var recompute: [MinuteKey] = []
        for (key, unsorted) in minutes {
            let points = unsorted.sorted { $0.0 < $1.0 }
            if var rollup = stored[key] {
                if points[0].0 > rollup.lastTimestamp {
                    for (timestamp, value) in points { rollup.add(timestamp: timestamp, value: value) }
                    written[key] = rollup
                } else if partitions.contains(DayPartition(containing: key.minute)) {
                    recompute.append(key)
                }
            } else {
                var rollup = MinuteRollup(timestamp: points[0].0, value: points[0].1)
                for (timestamp, value) in points.dropFirst() { rollup.add(timestamp: timestamp, value: value) }
                written[key] = rollup
            }
        }

        try await insert(rows)
        outcome.rowsWritten = rows.count
        for (key, rollup) in try await recomputed(recompute) { written[key] = rollup }
        outcome.rollupsRecomputed = recompute.count
        try await store(written)
        outcome.rollupsWritten = written.count

        // The stream: the frame into the log, the notification to every node (sent at COMMIT).
        outcome.batch = PublishedBatch(seq: UInt64(seq), serverTime: serverTime, samples: samples)
        let frame = LiveFrame.samples(seq: UInt64(seq), serverTime: serverTime, samples: samples)
        try await connection.query("INSERT INTO frames(seq, frame) VALUES (\(seq), \(frame))", logger: logger)
        let payload = frame.utf8.count <= Self.maxNotifiedFrameBytes ? frame : String(seq)
        try await connection.query("SELECT pg_notify(\(Self.channel), \(payload))", logger: logger)
        return outcome
    }

    struct RowKey: Hashable {
        let seriesID: Int64
        let timestamp: Int64
    }

    struct MinuteKey: Hashable {
        let seriesID: Int64
        let minute: Int64
    }

    /// The rows, through COPY into a temporary table, then one upsert into `samples`.
    private func insert(_ rows: [RowKey: Double]) async throws {
        try await connection.query("""
            CREATE TEMPORARY TABLE IF NOT EXISTS pulsegate_staging(series_id bigint, ts bigint, value double precision) ON COMMIT DELETE ROWS
            """, logger: logger)
        var buffer = ByteBufferAllocator().buffer(capacity: rows.count * 40)
        for (row, value) in rows {
            // COPY's text format: tab-separated, one row a line. Swift prints a Double
            // as the shortest text that reads back as the same bits, which PostgreSQL
            // reads exactly; values are finite (the model refuses the others).
            buffer.writeString(String(row.seriesID))
            buffer.writeInteger(UInt8(ascii: "\t"))
            buffer.writeString(String(row.timestamp))
            buffer.writeInteger(UInt8(ascii: "\t"))
            buffer.writeString(value.description)
            buffer.writeInteger(UInt8(ascii: "\n"))
        }
        try await connection.copyFrom(table: "pulsegate_staging", columns: ["series_id", "ts", "value"], logger: logger) { writer in
            try await writer.write(buffer)
        }
        try await connection.query("""
            INSERT INTO samples(series_id, ts, value) SELECT series_id, ts, value FROM pulsegate_staging
            ON CONFLICT (series_id, ts) DO UPDATE SET value = EXCLUDED.value
            """, logger: logger)
    }

    private func storedRollups(of keys: [MinuteKey]) async throws -> [MinuteKey: MinuteRollup] {
        guard !keys.isEmpty else { return [:] }
        let rows = try await connection.query("""
            SELECT r.series_id, r.bucket, r.count, r.sum, r.min, r.max, r.last, r.last_ts FROM rollups_1m r
            JOIN unnest(\(keys.map(\.seriesID))::bigint[], \(keys.map(\.minute))::bigint[]) AS k(series_id, bucket)
              ON r.series_id = k.series_id AND r.bucket = k.bucket
            """, logger: logger)
        var found: [MinuteKey: MinuteRollup] = [:]
        for try await (id, minute, count, sum, min, max, last, lastTimestamp) in rows.decode((Int64, Int64, Int64, Double, Double, Double, Double, Int64).self) {
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
