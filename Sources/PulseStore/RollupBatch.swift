import PulseCore

/// The rollups touched by one write transaction, kept by the writer.
///
/// A sample later than every sample of its minute is folded into that minute's
/// rollup (loaded once per transaction). A sample at or before the minute's
/// latest one (out of order, or overwriting a stored ts) cannot be folded
/// without changing the order of the sum, so its minute is recomputed from the
/// raw rows at the end of the transaction instead: rare, and exact.
///
/// This relies on one invariant: a minute has a rollup row exactly when it has
/// raw rows, until raw retention removes the raw rows, whole minutes at a time.
/// Below that cutoff (`rawFloor`) a rollup can no longer be recomputed: a
/// sample there that cannot be folded is left out of it (its raw row goes at
/// the next retention run anyway).
struct RollupBatch {
    let rawFloor: Int64

    private struct Key: Hashable {
        let seriesID: Int64
        let minute: Int64
    }

    private enum Entry {
        case folded(MinuteRollup)
        case recompute
    }

    private var entries: [Key: Entry] = [:]

    init(rawFloor: Int64) {
        self.rawFloor = rawFloor
    }

    private(set) var recomputed = 0
    private var written: [(Key, MinuteRollup)] = []

    var count: Int { entries.count }

    /// Accounts for a sample just written to the raw table.
    mutating func add(seriesID: Int64, timestamp: Int64, value: Double, latest: inout LatestRollups, on connection: SQLiteConnection) throws {
        let key = Key(seriesID: seriesID, minute: MinuteRollup.minute(of: timestamp))
        let entry: Entry?
        if let known = entries[key] {
            entry = known
        } else {
            entry = try latest.stored(seriesID: seriesID, minute: key.minute, on: connection).map(Entry.folded)
        }
        switch entry {
        case nil:
            entries[key] = .folded(MinuteRollup(timestamp: timestamp, value: value))
        case var .folded(rollup) where timestamp > rollup.lastTimestamp:
            rollup.add(timestamp: timestamp, value: value)
            entries[key] = .folded(rollup)
        case .folded where key.minute < rawFloor:
            break
        case .folded, .recompute:
            entries[key] = .recompute
        }
    }

    /// Writes every touched rollup; called inside the transaction, after the raw rows.
    mutating func write(on connection: SQLiteConnection) throws {
        for (key, entry) in entries {
            let rollup: MinuteRollup?
            switch entry {
            case let .folded(folded):
                rollup = folded
            case .recompute:
                rollup = try RollupTable.recompute(seriesID: key.seriesID, minute: key.minute, on: connection)
                recomputed += 1
            }
            if let rollup {
                try RollupTable.store(rollup, seriesID: key.seriesID, minute: key.minute, on: connection)
                written.append((key, rollup))
            }
        }
    }

    /// Once the transaction has committed: the writer's cache learns what it wrote.
    func committed(into latest: inout LatestRollups) {
        for (key, rollup) in written {
            latest.committed(rollup, seriesID: key.seriesID, minute: key.minute)
        }
    }
}
