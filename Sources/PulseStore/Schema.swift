/// The database schema, as an ordered list of migrations.
///
/// `PRAGMA user_version` records how many have been applied. A migration is
/// never edited once released: a change is a new migration appended here.
enum Schema {
    static let migrations: [String] = [
        // 1: series and raw samples.
        """
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
        """,
    ]

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
                try connection.execute(migrations[version])
                try connection.execute("PRAGMA user_version = \(version + 1)")
                try connection.execute("COMMIT")
            } catch {
                try? connection.execute("ROLLBACK")
                throw error
            }
        }
    }
}
