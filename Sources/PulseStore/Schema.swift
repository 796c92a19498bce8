import PulseCore

/// The database schema, as an ordered list of migrations.
///
/// `PRAGMA user_version` records how many have been applied. A migration is
/// never edited once released: a change is a new migration appended here.
enum Schema {
    /// SQL to run, then optionally Swift to fill new tables from old ones, in the same transaction.
    struct Migration: Sendable {
        let sql: String
        var backfill: (@Sendable (SQLiteConnection) throws -> Void)? = nil
    }

    static let migrations: [Migration] = [
        // 1: series and raw samples.
        Migration(sql: """
        CREATE TABLE series(
            id     INTEGER PRIMARY KEY,
            metric TEXT NOT NULL,
            labels TEXT NOT NULL,  -- JSON object, keys sorted (LabelJSON)
            UNIQUE(metric, labels)
        );
        CREATE TABLE samples(
            series_id INTEGER NOT NULL,
            ts        INTEGER NOT NULL,  -- milliseconds since the Unix epoch
            value     REAL NOT NULL,
            PRIMARY KEY(series_id, ts)
        ) WITHOUT ROWID;
        """),
        // 2: per-minute rollups (MinuteRollup), kept under their own, longer retention.
        Migration(sql: """
        CREATE TABLE rollups_1m(
            series_id INTEGER NOT NULL,
            bucket    INTEGER NOT NULL,  -- start of the minute, ms since the Unix epoch
            count     INTEGER NOT NULL,
            sum       REAL NOT NULL,
            min       REAL NOT NULL,
            max       REAL NOT NULL,
            last      REAL NOT NULL,     -- the value at last_ts
            last_ts   INTEGER NOT NULL,
            PRIMARY KEY(series_id, bucket)
        ) WITHOUT ROWID;
        """, backfill: backfillRollups),
        // 3: compressed chunks (XORChunk), and a new head for the rows not yet in one.
        // The head's value column has no type: with REAL affinity SQLite stores a
        // whole-number double as an integer, and -0 comes back as 0. The rows
        // of `samples` stay where they are and move into chunks in the
        // background (the writer's compaction): a large file opens at once.
        Migration(sql: """
        CREATE TABLE head(
            series_id INTEGER NOT NULL,
            ts        INTEGER NOT NULL,  -- milliseconds since the Unix epoch
            value     NOT NULL,          -- a double, stored as written
            PRIMARY KEY(series_id, ts)
        ) WITHOUT ROWID;
        CREATE TABLE chunks(
            series_id INTEGER NOT NULL,
            first_ts  INTEGER NOT NULL,
            last_ts   INTEGER NOT NULL,
            count     INTEGER NOT NULL,
            data      BLOB NOT NULL      -- XORChunk; a rowid table keeps it on the row's page
        );
        CREATE UNIQUE INDEX chunks_by_end ON chunks(series_id, last_ts);
        """),
        // 4: the head keyed by time bucket first (`HeadTable`), so that a commit
        // over many series writes a few adjacent pages rather than one per series.
        Migration(sql: """
        CREATE TABLE head_by_bucket(
            bucket    INTEGER NOT NULL,  -- ts >> \(HeadTable.bucketShift)
            series_id INTEGER NOT NULL,
            ts        INTEGER NOT NULL,
            value     NOT NULL,
            PRIMARY KEY(bucket, series_id, ts)
        ) WITHOUT ROWID;
        INSERT INTO head_by_bucket(bucket, series_id, ts, value)
            SELECT ts >> \(HeadTable.bucketShift), series_id, ts, value FROM head;
        DROP TABLE head;
        ALTER TABLE head_by_bucket RENAME TO head;
        """),
    ]

    /// Rolls up the raw rows already stored. In Swift rather than SQL, so that the
    /// sums are folded exactly as the writer folds them (see `MinuteRollup`).
    /// It reads `samples` itself: the tables that later migrations add are not there yet.
    private static func backfillRollups(_ connection: SQLiteConnection) throws {
        let series = try connection.prepare("SELECT id FROM series")
        let rows = try connection.prepare("SELECT ts, value FROM samples WHERE series_id = ?1 ORDER BY ts")
        while try series.step() {
            let id = series.int64(at: 0)
            var rollups: [(Int64, MinuteRollup)] = []
            var folder = MinuteFolder { rollups.append(($0, $1)) }
            rows.bind(id, at: 1)
            while try rows.step() { folder.add(timestamp: rows.int64(at: 0), value: rows.double(at: 1)) }
            rows.reset()
            folder.finish()
            for (minute, rollup) in rollups {
                try RollupTable.store(rollup, seriesID: id, minute: minute, on: connection)
            }
        }
    }

    static var currentVersion: Int { migrations.count }

    /// Brings a database up to `currentVersion`, one transaction per migration.
    /// Refuses a file written by a newer Pulsegate rather than guess at its tables.
    static func migrate(_ connection: SQLiteConnection) throws {
        let found = Int(try connection.scalarInt("PRAGMA user_version") ?? 0)
        if found > currentVersion {
            throw StoreError.schemaTooNew(path: connection.path, found: found, supported: currentVersion)
        }
        for version in found..<currentVersion {
            try connection.execute("BEGIN IMMEDIATE")
            do {
                try connection.execute(migrations[version].sql)
                try migrations[version].backfill?(connection)
                try connection.execute("PRAGMA user_version = \(version + 1)")
                try connection.execute("COMMIT")
            } catch {
                try? connection.execute("ROLLBACK")
                throw error
            }
        }
    }
}
