import PulseCore

/// Errors the store reports to its callers, worded for the person who runs Pulsegate.
public enum StoreError: StoreUnavailableError, Sendable {
    /// The file was written by a newer version of Pulsegate.
    case schemaTooNew(path: String, found: Int, supported: Int)
    /// The writer's queue is full: the disk cannot keep up with what arrives.
    case backlogFull(limit: Int)
    /// The store was closed, or is closing, and takes no more samples.
    case closed
    /// SQLite refused the write; the batch was rolled back.
    case writeFailed(SQLiteError)

    public var description: String {
        switch self {
        case let .schemaTooNew(path, found, supported):
            return "the database \(path) has schema version \(found), but this Pulsegate supports at most \(supported): "
                + "run a newer Pulsegate, or point --db at another file"
        case let .backlogFull(limit):
            return "the store's write queue is full (\(limit) samples): the disk is not keeping up"
        case .closed:
            return "the store is closed"
        case let .writeFailed(error):
            return "the database refused the write: \(error)"
        }
    }
}
