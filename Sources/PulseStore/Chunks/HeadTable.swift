/// The SQL of the `head` table: samples written since their series' last
/// compaction, one row each, keyed by series and ts.
enum HeadTable {
    static func hasRows(seriesID: Int64, on connection: SQLiteConnection) throws -> Bool {
        let statement = try connection.cached("SELECT 1 FROM head WHERE series_id = ?1 LIMIT 1")
        defer { statement.reset() }
        statement.bind(seriesID, at: 1)
        return try statement.step()
    }
}
