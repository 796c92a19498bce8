/// The storage side of the pipeline (Prometheus's `Appendable`): the SQLite
/// store's batched writer, or another store behind the same seam.
public protocol SampleWriter: Sendable {
    /// Stores `samples`; with `.committed`, returns only once they are durable.
    /// Throws when the store cannot take them (queue full, closed, a failed write).
    func write(_ samples: [Sample], durability: Durability) async throws

    /// Stores `samples` and returns once they are committed, unless a write with
    /// `key` was stored before (within `IdempotencyKey.retention`): then it
    /// stores nothing and says what that write accepted.
    func write(_ samples: [Sample], idempotencyKey key: IdempotencyKey) async throws -> WriteReceipt

    /// Why writes fail now (a full disk, say), or nil while they succeed:
    /// what readiness reports.
    var writeFailure: String? { get }
}
