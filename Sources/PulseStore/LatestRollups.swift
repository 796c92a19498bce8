import PulseCore

/// The newest committed rollup of each series the writer has touched: the
/// minute that nearly every new sample folds into, kept in memory so that a
/// transaction does not read it back from SQLite. Owned by the writer's thread.
///
/// An entry is either the series' newest rollup row or `.none` (it has no
/// rollups); a series not in the cache is looked up once.
struct LatestRollups {
    enum Newest {
        case none
        case minute(Int64, MinuteRollup)
    }

    private var newest: [Int64: Newest] = [:]

    /// The stored rollup of `minute` for a series, reading SQLite only when the
    /// minute is not the series' newest (a late sample) or the series is new here.
    mutating func stored(seriesID: Int64, minute: Int64, on connection: SQLiteConnection) throws -> MinuteRollup? {
        let known: Newest
        if let cached = newest[seriesID] {
            known = cached
        } else {
            known = try RollupTable.newest(seriesID: seriesID, on: connection).map(Newest.minute) ?? .none
            newest[seriesID] = known
        }
        switch known {
        case .none:
            return nil
        case let .minute(newestMinute, rollup):
            if minute > newestMinute { return nil }
            if minute == newestMinute { return rollup }
            return try RollupTable.load(seriesID: seriesID, minute: minute, on: connection)
        }
    }

    /// Takes in a rollup that a transaction has just committed.
    mutating func committed(_ rollup: MinuteRollup, seriesID: Int64, minute: Int64) {
        if case let .minute(newestMinute, _)? = newest[seriesID], newestMinute > minute { return }
        newest[seriesID] = .minute(minute, rollup)
    }

    /// Forgets series whose newest rollup retention has deleted (they are looked up again).
    mutating func forget(olderThan cutoff: Int64) {
        newest = newest.filter { _, known in
            if case let .minute(minute, _) = known { return minute >= cutoff }
            return true
        }
    }
}
