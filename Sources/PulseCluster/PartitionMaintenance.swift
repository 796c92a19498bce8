import Logging
import PostgresNIO
import PulseCore

/// The cluster's periodic upkeep: day partitions made ahead, raw days past the
/// retention dropped, old rollups deleted in bounded chunks.
///
/// Every node runs it, but one at a time: a node that does not get the
/// advisory lock skips the round (another node is doing it).
struct PartitionMaintenance {
    /// "pulsegate-maintenance"
    static let lock: Int64 = 0x7075_6C73_6567_0002

    let client: PostgresClient
    let configuration: ClusterStoreConfiguration
    let logger: Logger

    struct Round: Equatable {
        var ran = false
        var created: [DayPartition] = []
        var dropped: [DayPartition] = []
        var rollupsDeleted = 0
        var framesDeleted = 0
    }

    /// One round, relative to `now` (ms).
    @discardableResult
    func run(now: Int64 = Timestamp.now()) async throws -> Round {
        let today = DayPartition(containing: now)
        // Raw rows are kept from the start of the day that holds now - retention.
        let rawCutoff = DayPartition(containing: max(0, now - configuration.retention.milliseconds)).start
        let rollupCutoff = max(0, now - max(configuration.rollupRetention, configuration.retention).milliseconds)
        var round = try await client.transaction(logger: logger) { connection -> Round in
            var round = Round()
            let locked = try await connection.query("SELECT pg_try_advisory_xact_lock(\(Self.lock))", logger: logger)
                .collect().first?.decode(Bool.self) ?? false
            guard locked else { return round }
            round.ran = true
            // Dropping a partition waits for the write transactions that inserted into
            // `samples` to commit, and holds back the ones that have yet to (never the
            // stream head, which they take last: that would deadlock).
            try await Partitions.lockDDL(on: connection, logger: logger)
            let existing = try await Partitions.existing(on: connection, logger: logger)
            var day = today
            for _ in 0...max(0, configuration.partitionsAhead) {
                if !existing.contains(day) {
                    try await Partitions.create(day, on: connection, logger: logger)
                    round.created.append(day)
                }
                day = day.next
            }
            for old in existing.sorted() where old.end <= rawCutoff {
                try await Partitions.drop(old, on: connection, logger: logger)
                round.dropped.append(old)
            }
            // The replay log, bounded by count and by age.
            round.framesDeleted = Int(try await connection.query("""
                WITH gone AS (
                    DELETE FROM frames WHERE seq <= (SELECT seq FROM stream_head) - \(Int64(configuration.replayFrames))
                        OR created_at < now() - make_interval(secs => \(Double(configuration.replayAge.milliseconds) / 1000))
                    RETURNING 1)
                SELECT count(*) FROM gone
                """, logger: logger).collect().first?.decode(Int64.self) ?? 0)
            try await connection.query("""
                DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => \(Double(IdempotencyKey.retention.milliseconds) / 1000))
                """, logger: logger)
            return round
        }
        guard round.ran else { return round }
        // Old rollups, in short transactions of their own, so that writers are never held long.
        let chunk = Int64(max(1, configuration.retentionChunk))
        while true {
            let deleted = try await client.query("""
                WITH gone AS (
                    DELETE FROM rollups_1m WHERE ctid = ANY(ARRAY(SELECT ctid FROM rollups_1m WHERE bucket < \(rollupCutoff) LIMIT \(chunk)))
                    RETURNING 1)
                SELECT count(*) FROM gone
                """, logger: logger).collect().first?.decode(Int64.self) ?? 0
            round.rollupsDeleted += Int(deleted)
            if deleted < chunk { break }
        }
        if !round.created.isEmpty || !round.dropped.isEmpty {
            logger.info("partitions maintained", metadata: [
                "created": "\(round.created.map(\.tableName))", "dropped": "\(round.dropped.map(\.tableName))",
            ])
        }
        return round
    }
}
