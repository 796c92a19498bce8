import PulseCore

/// Why the cluster's store refuses to start or to write.
public enum ClusterError: StoreUnavailableError, Equatable {
    /// The database was set up by a newer Pulsegate, whose tables this one cannot read safely.
    case schemaTooNew(found: Int, supported: Int)
    /// The store is closing or closed.
    case closed
    /// More samples wait for PostgreSQL than the node may hold.
    case backlogFull(limit: Int)
    /// The stream head's row is missing: the database was changed by hand.
    case noStreamHead
    /// PostgreSQL could not be reached, or refused the node, at start.
    case cannotOpen(database: String, reason: String)

    public var description: String {
        switch self {
        case let .schemaTooNew(found, supported):
            "the PostgreSQL database has schema version \(found), newer than this Pulsegate supports (\(supported)): upgrade Pulsegate, or point it at another database"
        case .closed:
            "the store is closed"
        case let .backlogFull(limit):
            "more than \(limit) samples are waiting for PostgreSQL: try again shortly"
        case let .cannotOpen(database, reason):
            "cannot open the cluster's PostgreSQL at \(database): \(reason); check --postgres-url and that the server runs"
        case .noStreamHead:
            "the table stream_head has no row: the database was changed by hand; restore it, or start on an empty database"
        }
    }
}
