import Logging
import PostgresNIO
import PulseCore

/// The replay log in PostgreSQL (`frames`): every committed batch as its
/// samples frame, kept for a bounded count and age (`PartitionMaintenance`).
/// Nodes read it to fill what their notifications missed, and a hub reads it
/// for a client that resumes from a seq older than the node's ring.
public struct FrameLog: StreamLog {
    let client: PostgresClient
    let logger: Logger

    /// A client waits for this while it connects: bounded, so that an unreachable
    /// database costs it a `reset`, not a hang.
    static let readDeadline: Duration = .seconds(2)

    public func batches(after seq: UInt64, through: UInt64) async throws -> [PublishedBatch] {
        guard through > seq else { return [] }
        let (client, logger) = (self.client, self.logger)
        return try await withDeadline(Self.readDeadline) {
            let rows = try await client.query("""
                SELECT seq, frame FROM frames WHERE seq > \(Int64(seq)) AND seq <= \(Int64(clamping: through)) ORDER BY seq
                """, logger: logger)
            var batches: [PublishedBatch] = []
            for try await (found, frame) in rows.decode((Int64, String).self) {
                // Without a hole: a batch the log no longer has ends what can be given.
                guard UInt64(found) == seq + UInt64(batches.count) + 1, let batch = LiveFrame.decodeSamples(frame) else { break }
                batches.append(batch)
            }
            return batches
        }
    }

    /// The first batches the log holds from `seq` on (at most `limit`), in order: a
    /// node catching up learns from the first one's seq what the log has lost.
    func next(from seq: UInt64, limit: Int) async throws -> [PublishedBatch] {
        let rows = try await client.query("""
            SELECT seq, frame FROM frames WHERE seq >= \(Int64(seq)) ORDER BY seq LIMIT \(Int64(limit))
            """, logger: logger)
        var batches: [PublishedBatch] = []
        for try await (_, frame) in rows.decode((Int64, String).self) {
            if let batch = LiveFrame.decodeSamples(frame) { batches.append(batch) }
        }
        return batches
    }
}
