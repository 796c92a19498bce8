import Logging
import PostgresNIO

/// The day partitions of `samples`: which exist, making one, dropping old ones.
///
/// Every caller holds the stream head's row lock (the cluster's write lock),
/// so two nodes never make or drop the same partition at once.
enum Partitions {
    /// The days that have a partition now.
    static func existing(on connection: PostgresConnection, logger: Logger) async throws -> Set<DayPartition> {
        let rows = try await connection.query("""
            SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'samples'::regclass
            """, logger: logger)
        var days: Set<DayPartition> = []
        for try await name in rows.decode(String.self) {
            if let day = DayPartition(tableName: name) { days.insert(day) }
        }
        return days
    }

    static func create(_ day: DayPartition, on connection: PostgresConnection, logger: Logger) async throws {
        // Names and bounds are made here from integers, never from input.
        try await connection.query(PostgresQuery(unsafeSQL: """
            CREATE TABLE IF NOT EXISTS \(day.tableName) PARTITION OF samples FOR VALUES FROM (\(day.start)) TO (\(day.end))
            """), logger: logger)
    }

    static func drop(_ day: DayPartition, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(PostgresQuery(unsafeSQL: "DROP TABLE IF EXISTS \(day.tableName)"), logger: logger)
    }
}
