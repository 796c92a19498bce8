import Foundation
import Logging
import Metrics
import PostgresNIO
import PulseCore
import Synchronization

/// The node's writer into PostgreSQL: group commits, one transaction at a time.
///
/// Callers queue samples and return at once (`.buffered`: the collector) or
/// wait for the COMMIT that holds them (`.committed`: pushes, whose 2xx means
/// durable). A commit starts at once when someone waits, else when `batchSize`
/// samples are queued or the oldest is `batchAge` old; callers that arrive while
/// one runs share the next (group commit). One caller's samples are never split
/// across transactions.
///
/// When a transaction fails (PostgreSQL down, say), those who wait get the
/// error (a push is answered 503, never 2xx), and buffered samples go back to
/// the front of the queue, to be written with their own timestamps once
/// PostgreSQL answers again; the queue is bounded (`maxPendingSamples`, and
/// `maxPendingAge` for what waits out an outage), and what does not fit is
/// refused or given up, and counted.
final class PostgresWriter: Sendable {
    private struct QueuedWrite {
        let samples: [Sample]
        let key: IdempotencyKey?
        let waiter: CheckedContinuation<WriteReceipt, any Error>?
        var queuedAt = ContinuousClock.now
    }

    private struct State {
        var queue: [QueuedWrite] = []
        var queuedSamples = 0
        var queuedWaiters = 0
        var queuedSince: ContinuousClock.Instant?
        var queuedMinTimestamp: Int64?
        var committingMinTimestamp: Int64?
        var stopping = false
        /// While set, failed writes are retried after this instant, not before.
        var retryAfter: ContinuousClock.Instant?
        /// When a transaction last committed.
        var lastCommit: ContinuousClock.Instant?
        var statistics = WriterStatistics()
    }

    private let client: PostgresClient
    private let batchSize: Int
    private let batchAge: Duration
    private let maxPendingSamples: Int
    private let maxPendingAge: Duration
    private let commitTimeout: Duration
    private let logger: Logger
    private let state = Mutex(State())
    /// Wakes the loop; holds at most one pending wake-up, so none is lost.
    private let wakeUps: AsyncStream<Void>.Continuation
    private let wakeUpStream: AsyncStream<Void>
    private let batchSamples: Recorder
    private let commitDuration: Metrics.Timer

    /// Told of every committed batch, in commit order (the node's own stream, before
    /// the notification comes back); set once before the first write.
    let committed = Mutex<(@Sendable (PublishedBatch) -> Void)?>(nil)

    /// Series and partitions known to exist; owned by the loop, shared with readers of cardinality.
    let registry = SeriesRegistry()
    private let caches: Mutex<(seriesIDs: [SeriesKey: Int64], partitions: Set<DayPartition>)>

    init(
        client: PostgresClient, configuration: ClusterStoreConfiguration, seriesIDs: [SeriesKey: Int64],
        partitions: Set<DayPartition>, logger: Logger, metrics: any MetricsFactory
    ) {
        self.client = client
        self.batchSize = max(1, configuration.batchSize)
        self.batchAge = configuration.batchAge
        self.maxPendingSamples = max(configuration.maxPendingSamples, configuration.batchSize)
        self.maxPendingAge = configuration.maxPendingAge
        self.commitTimeout = configuration.commitTimeout
        self.logger = logger
        self.batchSamples = Recorder(label: "pulsegate_store_batch_samples", aggregate: true, factory: metrics)
        self.commitDuration = Metrics.Timer(label: "pulsegate_store_commit_duration_seconds", factory: metrics)
        self.caches = Mutex((seriesIDs, partitions))
        (wakeUpStream, wakeUps) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        registry.add(seriesIDs.keys)
    }

    // MARK: Called from any task

    func write(_ samples: [Sample], durability: Durability) async throws {
        switch durability {
        case .buffered:
            try state.withLock { try enqueue(QueuedWrite(samples: samples, key: nil, waiter: nil), &$0) }
        case .committed:
            _ = try await committed(samples, key: nil)
        }
    }

    /// Queues `samples` and returns after the commit that holds them (or finds `key` stored).
    func committed(_ samples: [Sample], key: IdempotencyKey?) async throws -> WriteReceipt {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<WriteReceipt, any Error>) in
            state.withLock { state in
                do {
                    try enqueue(QueuedWrite(samples: samples, key: key, waiter: continuation), &state)
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    private func enqueue(_ write: QueuedWrite, _ state: inout State) throws {
        if state.stopping { throw ClusterError.closed }
        if state.queuedSamples + write.samples.count > maxPendingSamples {
            state.statistics.samplesRefused += write.samples.count
            throw ClusterError.backlogFull(limit: maxPendingSamples)
        }
        if state.queuedSince == nil, !write.samples.isEmpty {
            state.queuedSince = .now
            // The deadline of the batch that starts here.
            let age = batchAge
            Task { [wakeUps] in
                try? await Task.sleep(for: age)
                wakeUps.yield()
            }
        }
        if let oldest = write.samples.lazy.map(\.timestamp).min() {
            state.queuedMinTimestamp = min(state.queuedMinTimestamp ?? oldest, oldest)
        }
        state.queue.append(write)
        state.queuedSamples += write.samples.count
        if write.waiter != nil { state.queuedWaiters += 1 }
        if write.waiter != nil || state.queuedSamples >= batchSize { wakeUps.yield() }
    }

    /// When a transaction last committed, if one has.
    var lastCommit: ContinuousClock.Instant? {
        state.withLock { $0.lastCommit }
    }

    /// The oldest sample ts accepted but not yet committed.
    var oldestPendingTimestamp: Int64? {
        state.withLock { state in
            switch (state.queuedMinTimestamp, state.committingMinTimestamp) {
            case let (queued?, committing?): min(queued, committing)
            case let (queued, committing): queued ?? committing
            }
        }
    }

    var statistics: WriterStatistics {
        state.withLock { state in
            var copy = state.statistics
            copy.pendingSamples = state.queuedSamples
            return copy
        }
    }

    /// Asks the loop to commit what is queued and return.
    func requestStop() {
        state.withLock { $0.stopping = true }
        wakeUps.yield()
    }

    // MARK: The loop

    /// Commits batches until stopped; returns once what was queued before the
    /// stop is committed (or has failed).
    func run() async {
        for await _ in wakeUpStream {
            while let batch = nextBatch() {
                await commit(batch)
            }
            if state.withLock({ $0.stopping && $0.queue.isEmpty }) { break }
            // PostgreSQL failed and samples wait: try again when the pause is over
            // (a push that comes meanwhile is answered at once, see `nextBatch`).
            let retry = state.withLock { state in state.queue.isEmpty ? nil : state.retryAfter.flatMap { $0 > .now ? $0 : nil } }
            if let retry {
                try? await Task.sleep(until: retry)
                wakeUps.yield()
            }
        }
    }

    /// The writes of the next transaction, if one is due now.
    private func nextBatch() -> [QueuedWrite]? {
        let (batch, refused) = state.withLock { state -> ([QueuedWrite]?, [QueuedWrite]) in
            guard !state.queue.isEmpty else { return (nil, []) }
            let due = state.queuedWaiters > 0 || state.stopping || state.queuedSamples >= batchSize
                || (state.queuedSince.map { ContinuousClock.now - $0 >= batchAge } ?? false)
                || (state.retryAfter.map { ContinuousClock.now >= $0 } ?? false)  // what waited out a failure
            guard due else { return (nil, []) }
            if let retryAfter = state.retryAfter, ContinuousClock.now < retryAfter, !state.stopping {
                // PostgreSQL failed a moment ago: pushes are answered at once (503), not
                // after another wait for it; buffered samples wait for the next try.
                let refused = state.queue.filter { $0.waiter != nil }
                guard !refused.isEmpty else { return (nil, []) }
                state.queue.removeAll { $0.waiter != nil }
                state.queuedSamples -= refused.reduce(0) { $0 + $1.samples.count }
                state.queuedWaiters = 0
                state.queuedMinTimestamp = state.queue.lazy.flatMap(\.samples).map(\.timestamp).min()
                return (nil, refused)
            }
            return (take(&state), [])
        }
        let reason = refused.isEmpty ? "" : statistics.lastWriteError ?? "the last write failed"
        for write in refused { write.waiter?.resume(throwing: StoreUnavailable(reason: reason)) }
        return batch
    }

    /// Takes the next transaction's writes off the queue: whole writes, up to `batchSize` samples.
    private func take(_ state: inout State) -> [QueuedWrite] {
        var taken: [QueuedWrite] = []
        var count = 0
        while let first = state.queue.first, taken.isEmpty || count + first.samples.count <= batchSize {
            taken.append(state.queue.removeFirst())
            count += first.samples.count
        }
        state.queuedSamples -= count
        state.queuedWaiters -= taken.lazy.filter { $0.waiter != nil }.count
        state.committingMinTimestamp = taken.lazy.flatMap(\.samples).map(\.timestamp).min()
        state.queuedMinTimestamp = state.queue.lazy.flatMap(\.samples).map(\.timestamp).min()
        state.queuedSince = state.queue.isEmpty ? nil : .now
        state.statistics.committingSamples = count
        return taken
    }

    private func commit(_ writes: [QueuedWrite]) async {
        let samples = writes.flatMap(\.samples)
        let parts = writes.map { WriteTransaction.Write(samples: $0.samples, key: $0.key) }
        guard !samples.isEmpty else {
            // Only flushes: what they wait for was committed before them.
            state.withLock { $0.statistics.committingSamples = 0; $0.committingMinTimestamp = nil }
            for write in writes { write.waiter?.resume(returning: .stored) }
            return
        }
        let started = ContinuousClock.now
        let caches = self.caches.withLock { $0 }
        let serverTime = Date().timeIntervalSince1970 * 1000
        do {
            let (client, logger) = (self.client, self.logger)
            let outcome = try await withDeadline(commitTimeout) {
                try await client.transaction(logger: logger) { connection in
                    try await WriteTransaction(connection: connection, logger: logger)
                        .run(parts, serverTime: serverTime, seriesIDs: caches.seriesIDs, partitions: caches.partitions)
                }
            }
            let elapsed = ContinuousClock.now - started
            self.caches.withLock { caches in
                caches.seriesIDs.merge(outcome.newSeries) { $1 }
                caches.partitions.formUnion(outcome.newPartitions)
            }
            registry.add(outcome.newSeries.keys)
            state.withLock { state in
                state.statistics.batchesCommitted += 1
                state.statistics.rowsWritten += outcome.rowsWritten
                state.statistics.seriesCreated += outcome.newSeries.count
                state.statistics.rollupsWritten += outcome.rollupsWritten
                state.statistics.rollupsRecomputed += outcome.rollupsRecomputed
                state.statistics.lastCommitDuration = elapsed
                state.statistics.lastWriteError = nil
                state.statistics.committingSamples = 0
                state.committingMinTimestamp = nil
                state.retryAfter = nil
                state.lastCommit = .now
            }
            if let batch = outcome.batch { committed.withLock { $0 }?(batch) }
            batchSamples.record(outcome.batch?.samples.count ?? 0)
            commitDuration.recordNanoseconds(Int64(elapsed.seconds * 1e9))
            for (write, receipt) in zip(writes, outcome.receipts) { write.waiter?.resume(returning: receipt) }
        } catch {
            let reason = String(reflecting: error)
            logger.error("PostgreSQL write failed", metadata: ["samples": "\(samples.count)", "error": "\(reason)"])
            let requeued = writes.filter { $0.waiter == nil }
            state.withLock { state in
                state.statistics.writeErrors += 1
                state.statistics.lastWriteError = reason
                state.statistics.committingSamples = 0
                state.committingMinTimestamp = nil
                state.retryAfter = .now + .seconds(1)
                // Buffered samples wait for the next try, in front, as far as the bound
                // allows; not when stopping, which must end even with PostgreSQL away.
                var room = state.stopping ? 0 : maxPendingSamples - state.queuedSamples
                var kept: [QueuedWrite] = []
                for write in requeued {
                    if write.samples.count <= room {
                        kept.append(write)
                        room -= write.samples.count
                    } else {
                        state.statistics.samplesDropped += write.samples.count
                    }
                }
                state.queue.insert(contentsOf: kept, at: 0)
                state.queuedSamples += kept.reduce(0) { $0 + $1.samples.count }
                // Every try fails while PostgreSQL is away: what has waited out the age bound goes.
                let expiry = ContinuousClock.now - maxPendingAge
                let expired = state.queue.filter { $0.waiter == nil && $0.queuedAt < expiry }
                if !expired.isEmpty {
                    let count = expired.reduce(0) { $0 + $1.samples.count }
                    state.queue.removeAll { $0.waiter == nil && $0.queuedAt < expiry }
                    state.queuedSamples -= count
                    state.statistics.samplesDropped += count
                    logger.warning("buffered samples waited too long for PostgreSQL and are given up", metadata: [
                        "samples": "\(count)", "bound": "\(maxPendingAge)",
                    ])
                }
                state.queuedMinTimestamp = state.queue.lazy.flatMap(\.samples).map(\.timestamp).min()
                if !state.queue.isEmpty, state.queuedSince == nil { state.queuedSince = .now }
                if state.queue.isEmpty { state.queuedSince = nil }
            }
            for write in writes { write.waiter?.resume(throwing: StoreUnavailable(reason: reason)) }
        }
    }
}

/// PostgreSQL could not take a write: the caller may retry later (a push gets 503).
public struct StoreUnavailable: StoreUnavailableError {
    public let reason: String
    public var description: String { "PostgreSQL is unavailable: \(reason)" }
}
