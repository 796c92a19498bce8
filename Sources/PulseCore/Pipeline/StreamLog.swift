/// A log of the stream's batches older than the hub's replay ring: in cluster
/// mode, the shared `frames` table, so that a client resumes on any node even
/// when that node's ring no longer holds (or never held) its `seq`. The
/// embedded gateway has none: its ring is the whole replay.
public protocol StreamLog: Sendable {
    /// The batches after `seq` up to `through`, in order and without a hole,
    /// starting at `seq + 1`; empty when the log no longer holds `seq + 1`.
    func batches(after seq: UInt64, through: UInt64) async throws -> [PublishedBatch]
}
