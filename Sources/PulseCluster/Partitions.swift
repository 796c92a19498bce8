import Logging
import PostgresNIO

/// The day partitions of `samples`: which exist, making one, dropping old ones.
///
/// Every caller holds `ddlLock` first, so two nodes never make or drop the
/// same partition at once (`CREATE TABLE IF NOT EXISTS` is not safe against
/// itself in two transactions).
enum Partitions {
    /// The transaction advisory lock around making and dropping partitions ("pulsegate-partitions").
    static let ddlLock: Int64 = 0x7075_6C73_6567_0003

    /// Waits for, and holds until the transaction ends, the right to make or drop partitions.
    static func lockDDL(on connection: PostgresConnection, logger: Logger) async throws {
        _ = try await connection.query("SELECT pg_advisory_xact_lock(\(ddlLock))", logger: logger).collect()
    }

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

    /// Makes `day`'s partition unless it exists; says whether it made it.
    @discardableResult
    static func create(_ day: DayPartition, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        // Names and bounds are made here from integers, never from input.
        let exists = try await connection.query(PostgresQuery(unsafeSQL: "SELECT to_regclass('\(day.tableName)') IS NOT NULL"), logger: logger)
            .collect().first?.decode(Bool.self) ?? false
        guard !exists else { return false }
        try await connection.query(PostgresQuery(unsafeSQL: """
            CREATE TABLE \(day.tableName) PARTITION OF samples FOR VALUES FROM (\(day.start)) TO (\(day.end))
            """), logger: logger)
        return true
    }

    static func drop(_ day: DayPartition, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(PostgresQuery(unsafeSQL: "DROP TABLE IF EXISTS \(day.tableName)"), logger: logger)
    }
}
