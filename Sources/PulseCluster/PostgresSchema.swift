import Logging
import PostgresNIO

/// The cluster's tables, as an ordered list of migrations.
///
/// The row of `pulsegate_schema` records how many have been applied. Nodes that
/// start together migrate one at a time (an advisory lock), and a database set
/// up by a newer Pulsegate is refused rather than guessed at. A migration is
/// never edited once released: a change is a new migration appended here.
enum PostgresSchema {
    /// The advisory lock key under which migrations run ("pulsegate-schema").
    static let migrationLock: Int64 = 0x7075_6C73_6567_0001

    /// Each migration is a list of statements (the extended protocol runs one at a time).
    static let migrations: [[String]] = [
        // 1: series, raw samples (range-partitioned by day, partitions made by PartitionMaintenance),
        // per-minute rollups, and the stream head: the row every write transaction locks first.
        [
        """
        CREATE TABLE series(
            id     bigserial PRIMARY KEY,
            metric text COLLATE "C" NOT NULL,
            labels text COLLATE "C" NOT NULL,  -- JSON object, keys sorted (LabelJSON)
            UNIQUE(metric, labels)
        )
        """,
        """
        CREATE TABLE samples(
            series_id bigint NOT NULL,
            ts        bigint NOT NULL,            -- milliseconds since the Unix epoch
            value     double precision NOT NULL,
            PRIMARY KEY(series_id, ts)
        ) PARTITION BY RANGE (ts)
        """,
        """
        CREATE TABLE rollups_1m(
            series_id bigint NOT NULL,
            bucket    bigint NOT NULL,            -- start of the minute, ms since the Unix epoch
            count     bigint NOT NULL,
            sum       double precision NOT NULL,
            min       double precision NOT NULL,
            max       double precision NOT NULL,
            last      double precision NOT NULL,  -- the value at last_ts
            last_ts   bigint NOT NULL,
            PRIMARY KEY(series_id, bucket)
        )
        """,
        // Rollup retention deletes by age across series.
        "CREATE INDEX rollups_1m_bucket ON rollups_1m(bucket)",
        """
        CREATE TABLE stream_head(
            only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
            seq      bigint NOT NULL,             -- the last batch's sequence number
            epoch    text NOT NULL                -- the cluster's instance, as live clients resume with it
        )
        """,
        "INSERT INTO stream_head(seq, epoch) VALUES (0, gen_random_uuid()::text)",
        // The replay log: each committed batch as its samples frame, for nodes that missed a
        // notification and for clients that resume from a seq older than a node's ring.
        """
        CREATE TABLE frames(
            seq        bigint PRIMARY KEY,
            frame      text NOT NULL,                 -- the batch's samples frame (LiveFrame.samples), unfiltered
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        "CREATE INDEX frames_created_at ON frames(created_at)",
        // Keys of pushes stored (Idempotency-Key), with what each accepted, for IdempotencyKey.retention.
        """
        CREATE TABLE idempotency_keys(
            key        text COLLATE "C" PRIMARY KEY,
            accepted   bigint NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        "CREATE INDEX idempotency_keys_created_at ON idempotency_keys(created_at)",
        ],
        // 2: what each node reports of its writes, so that `complete_until` counts every node's
        // samples still waiting for a commit, not only the answering node's (PostgresSampleStore).
        [
        """
        CREATE TABLE nodes(
            name              text COLLATE "C" PRIMARY KEY,  -- --node
            committed_through bigint NOT NULL,  -- ms: every sample the node accepted up to here is committed
            reported_at       bigint NOT NULL   -- ms, the node's clock
        )
        """,
        ],
    ]

    static var currentVersion: Int { migrations.count }

    /// Brings the database up to `currentVersion`, all in one transaction under
    /// the migration lock. Throws `ClusterError.schemaTooNew` for a newer database.
    static func migrate(_ client: PostgresClient, logger: Logger) async throws {
        try await client.transaction(logger: logger) { connection in
            _ = try await connection.query("SELECT pg_advisory_xact_lock(\(migrationLock))", logger: logger)
            let exists = try await connection.query("SELECT to_regclass('pulsegate_schema') IS NOT NULL", logger: logger)
                .collect().first?.decode(Bool.self) ?? false
            var found = 0
            if exists {
                found = try await connection.query("SELECT version FROM pulsegate_schema", logger: logger)
                    .collect().first?.decode(Int.self) ?? 0
            } else {
                try await connection.query("CREATE TABLE pulsegate_schema(version integer NOT NULL)", logger: logger)
                try await connection.query("INSERT INTO pulsegate_schema VALUES (0)", logger: logger)
            }
            if found > currentVersion {
                throw ClusterError.schemaTooNew(found: found, supported: currentVersion)
            }
            for version in found..<currentVersion {
                for statement in migrations[version] {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("UPDATE pulsegate_schema SET version = \(version + 1)", logger: logger)
            }
        }
    }
}
