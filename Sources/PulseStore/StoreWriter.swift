import CSQLite
import Foundation
import Logging
import Metrics
import PulseCore

/// The one writer of the database: owns the write connection and its own thread.
///
/// Callers queue samples and return at once (`.buffered`) or wait for the
/// commit that holds them (`.committed`). The thread commits when the queue
/// holds `batchSize` samples, when its oldest sample is `batchAge` old, or at
/// once when someone waits for a commit: requests that arrive while a commit
/// runs share the next one (group commit).
///
/// A transaction holds about `batchSize` samples however far behind the writer
/// is, so that no commit holds the write lock (and WAL checkpoints) for long;
/// the samples of one call are never split across two transactions, so a
/// request is stored whole or not at all.
///
/// Samples land in the `head` table, and a commit writes nothing else.
/// Between commits the thread moves closed head rows into compressed chunks,
/// a few series and a bounded number of rows of each per transaction
/// (`CompactionQueue`, `Compaction`), and the same transaction writes the
/// per-minute rollups of the minutes they leave (`RollupTable.refresh`); the
/// rows of a schema-2 file move into chunks the same way. Under load, commits
/// and compaction steps take turns, and a step stops at a series once a commit
/// is due: a sender waiting for its acknowledgement waits for one series' move
/// at most, not for eight.
///
/// SQLite calls block, so they run on this dedicated thread, never on a
/// SwiftNIO event loop or in the cooperative pool.
final class StoreWriter: @unchecked Sendable {
    private let connection: SQLiteConnection
    private let batchSize: Int
    private let batchAge: TimeInterval
    private let maxPendingSamples: Int
    private let logger: Logger
    /// Per commit: samples in it (`pulsegate_store_batch_samples`) and its duration.
    private let batchSamples: Recorder
    private let commitDuration: Metrics.Timer

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [QueuedWrite] = []
    private var queuedSamples = 0
    private var queuedWaiters = 0
    private var queuedSince: Date?
    /// The oldest sample ts queued, and among those the writer is committing now.
    private var queuedMinTimestamp: Int64?
    private var committingMinTimestamp: Int64?
    private var retentionRequests: [RetentionRequest] = []
    private var compactAllWaiters: [CheckedContinuation<Void, Never>] = []
    private var stopping = false
    private var stopped = false
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []
    private var stats = WriterStatistics()

    // Owned by the writer thread.
    private var seriesIDs: [SeriesKey: Int64] = [:]
    private var retention: RetentionRun?
    /// Raw rows before this ts (a whole minute) have been deleted by retention:
    /// found when the file opens (`RawRetention.floor`), raised as retention runs.
    /// Guarded by `condition`: reads fold the minutes below it as the writer does (`RollupTable`).
    private var rawFloorValue: Int64
    var rawFloor: Int64 { condition.withLock { rawFloorValue } }
    private var compactions: CompactionQueue
    /// Set while a `compactAll()` runs: every step moves every row it finds.
    private var compactingAll = false
    /// Some rows of schema 2 may be left in `samples`: a step's rollups are then
    /// folded from a read of every stored sample, those rows included, not from
    /// what the step holds in memory. Commits never add any.
    private var legacyRowsLeft = true
    /// A compaction step is owed before the next commit (they take turns).
    private var compactionOwed = false
    /// The file has incremental auto-vacuum (made by schema 3 or later): free pages can be given back.
    private let reclaimsFreePages: Bool
    /// Free pages kept for the head's next rows rather than given back (4 MB).
    private static let freePageSlack: Int64 = 1_024

    private static let insertSeriesSQL = """
        INSERT INTO series(metric, labels) VALUES (?1, ?2)
        ON CONFLICT(metric, labels) DO UPDATE SET metric = excluded.metric
        RETURNING id
        """

    /// Shared with the store's readers of cardinality.
    let registry = SeriesRegistry()
    private let checkpointer: Checkpointer

    init(connection: SQLiteConnection, configuration: StoreConfiguration, logger: Logger, metrics: any MetricsFactory) throws {
        self.connection = connection
        self.batchSamples = Recorder(label: "pulsegate_store_batch_samples", aggregate: true, factory: metrics)
        self.commitDuration = Metrics.Timer(label: "pulsegate_store_commit_duration_seconds", factory: metrics)
        self.batchSize = max(1, configuration.batchSize)
        self.batchAge = configuration.batchAge.seconds
        self.maxPendingSamples = max(configuration.maxPendingSamples, configuration.batchSize)
        self.logger = logger
        self.compactions = CompactionQueue(policy: configuration.chunkPolicy)
        self.reclaimsFreePages = try connection.scalarInt("PRAGMA auto_vacuum") == 2
        self.seriesIDs = try Self.loadSeries(connection)
        self.rawFloorValue = try RawRetention.floor(on: connection)
        // Threads start last: a throwing init must not leave one running (it would
        // keep the process alive).
        self.checkpointer = try Checkpointer(path: connection.path, logger: logger)
        registry.add(seriesIDs.keys)
        checkpointer.attach(to: connection)
        let thread = Thread { [self] in run() }
        thread.name = "pulsegate-store-writer"
        thread.start()
    }

    // MARK: - Called from any task

    /// Queues samples; with `.committed`, returns after the commit that holds them.
    func write(_ samples: [Sample], durability: Durability) async throws {
        switch durability {
        case .buffered:
            try condition.withLock { try enqueue(QueuedWrite(samples: samples, waiter: nil)) }
        case .committed:
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                condition.withLock {
                    do {
                        try enqueue(QueuedWrite(samples: samples, waiter: continuation))
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
            }
        }
    }

    /// Commits everything queued so far and returns when it is on disk.
    func flush() async throws {
        try await write([], durability: .committed)
    }

    /// Deletes the rows of `table` older than `cutoff` (ms), in chunks of `chunk`
    /// rows, each its own short transaction so that batches keep flowing in between.
    /// For raw samples, `cutoff` must be the start of a minute: rollups outlive
    /// raw rows, and a minute whose raw rows are partly gone could not be recomputed.
    func delete(from table: RetentionTable, olderThan cutoff: Int64, chunk: Int) async throws -> Int {
        precondition(table == .rollups || cutoff % MinuteRollup.resolution == 0, "raw retention deletes whole minutes")
        return try await withCheckedThrowingContinuation { continuation in
            condition.withLock {
                if stopping {
                    continuation.resume(throwing: StoreError.closed)
                    return
                }
                retentionRequests.append(RetentionRequest(table: table, cutoff: cutoff, chunk: max(1, chunk), continuation: continuation))
                condition.signal()
            }
        }
    }

    /// Moves every head row (and every row of schema 2) into chunks, whatever
    /// its age, and returns when none is left: for benchmarks and tests that
    /// measure or check the compacted file. Writes keep flowing meanwhile.
    func compactAll() async {
        await withCheckedContinuation { continuation in
            condition.withLock {
                if stopping {
                    continuation.resume()
                    return
                }
                compactAllWaiters.append(continuation)
                condition.signal()
            }
        }
    }

    /// Commits what is queued, stops the thread and returns when it has.
    func stop() async {
        await withCheckedContinuation { continuation in
            condition.withLock {
                if stopped {
                    continuation.resume()
                    return
                }
                stopping = true
                stopWaiters.append(continuation)
                condition.signal()
            }
        }
    }

    /// Asks the thread to commit what is queued and stop, without waiting: for a
    /// store dropped without `close()`, whose threads would otherwise wait forever
    /// (and keep the process from exiting).
    func requestStop() {
        condition.withLock {
            if !stopped {
                stopping = true
                condition.signal()
            }
        }
    }

    /// The oldest sample ts accepted but not yet committed.
    var oldestPendingTimestamp: Int64? {
        condition.withLock {
            switch (queuedMinTimestamp, committingMinTimestamp) {
            case let (queued?, committing?): min(queued, committing)
            case let (queued, committing): queued ?? committing
            }
        }
    }

    var statistics: WriterStatistics {
        condition.withLock {
            var copy = stats
            copy.pendingSamples = queuedSamples
            copy.checkpoints = checkpointer.checkpoints
            return copy
        }
    }

    /// Must be called with `condition` locked.
    private func enqueue(_ write: QueuedWrite) throws {
        if stopping { throw StoreError.closed }
        if queuedSamples + write.samples.count > maxPendingSamples {
            stats.samplesRefused += write.samples.count
            throw StoreError.backlogFull(limit: maxPendingSamples)
        }
        let wasIdle = queue.isEmpty
        if queuedSince == nil, !write.samples.isEmpty { queuedSince = Date() }
        if let oldest = write.samples.lazy.map(\.timestamp).min() {
            queuedMinTimestamp = min(queuedMinTimestamp ?? oldest, oldest)
        }
        queue.append(write)
        queuedSamples += write.samples.count
        if write.waiter != nil { queuedWaiters += 1 }
        // Wake the writer when there is a commit to do now, or a first deadline to wait for.
        if wasIdle || write.waiter != nil || queuedSamples >= batchSize { condition.signal() }
    }

    // MARK: - The writer thread

    private enum Work {
        case commit([QueuedWrite])
        case retentionStep
        case compactionStep(CompactionQueue.Task)
        case compactAll([CheckedContinuation<Void, Never>])
        case stop
    }

    private func run() {
        queueRowsLeftByEarlierRuns()
        while true {
            switch nextWork() {
            case let .commit(writes):
                commitTaken(writes)
                compactionOwed = !compactions.isEmpty
            case .retentionStep:
                runRetentionStep()
            case let .compactionStep(task):
                compactionOwed = false
                runCompactionStep(startingWith: task)
            case let .compactAll(waiters):
                runCompactAll()
                for waiter in waiters { waiter.resume() }
            case .stop:
                finishStopping()
                return
            }
        }
    }

    /// Waits until there is something to do and takes it from the shared state.
    /// Once stopping, it takes what is queued before it says stop.
    private func nextWork() -> Work {
        condition.lock()
        defer { condition.unlock() }
        while true {
            // Heads that have waited too long are queued, busy or idle.
            compactions.sweep(now: .now)
            if isCommitDue, compactionOwed, !stopping, let task = compactions.next() {
                return .compactionStep(task)
            }
            if let writes = takeDueCommit() {
                return .commit(writes)
            }
            if stopping {
                return .stop
            }
            if retention == nil, !retentionRequests.isEmpty {
                retention = RetentionRun(request: retentionRequests.removeFirst())
            }
            if retention != nil {
                return .retentionStep
            }
            if !compactAllWaiters.isEmpty {
                defer { compactAllWaiters = [] }
                return .compactAll(compactAllWaiters)
            }
            if let task = compactions.next() {
                return .compactionStep(task)
            }
            // Heads waiting to be compacted are swept once a second, idle or not.
            let sweep = compactions.hasHeads ? Date().addingTimeInterval(1) : nil
            switch (queuedSince.map { $0.addingTimeInterval(batchAge) }, sweep) {
            case let (due?, sweep?): _ = condition.wait(until: min(due, sweep))
            case let (due?, nil), let (nil, due?): _ = condition.wait(until: due)
            case (nil, nil): condition.wait()
            }
        }
    }

    /// Whether what is queued must be committed now. Call with `condition` locked.
    private var isCommitDue: Bool {
        let aged = queuedSince.map { Date().timeIntervalSince($0) >= batchAge } ?? false
        return !queue.isEmpty && (stopping || queuedWaiters > 0 || queuedSamples >= batchSize || aged)
    }

    /// Takes what is queued when it is due. Call with `condition` locked.
    private func takeDueCommit() -> [QueuedWrite]? {
        guard isCommitDue else { return nil }
        let writes = queue
        queue = []
        stats.committingSamples = queuedSamples
        committingMinTimestamp = queuedMinTimestamp
        queuedMinTimestamp = nil
        queuedSamples = 0
        queuedWaiters = 0
        queuedSince = nil
        return writes
    }

    /// Commits writes taken from the queue, then says that none is in flight.
    private func commitTaken(_ writes: [QueuedWrite]) {
        commitInBatches(writes)
        condition.withLock {
            stats.committingSamples = 0
            committingMinTimestamp = nil
        }
    }

    /// Commits whole writes in transactions of about `batchSize` samples and
    /// tells each waiting caller how its transaction went.
    private func commitInBatches(_ writes: [QueuedWrite]) {
        var start = 0
        while start < writes.count {
            var end = start
            var samples = 0
            while end < writes.count, samples == 0 || samples + writes[end].samples.count <= batchSize {
                samples += writes[end].samples.count
                end += 1
            }
            let batch = writes[start..<end]
            let result = commit(batch, sampleCount: samples)
            for write in batch { write.waiter?.resume(with: result) }
            start = end
            // A backlog is committed transaction after transaction: compaction takes its turns
            // in between too, a series at a time (the rest of the backlog is due).
            if start < writes.count, let task = compactions.next() { runCompactionStep(startingWith: task, alone: true) }
        }
    }

    /// Writes the samples of `writes` in one transaction. Same series and
    /// timestamp: the later sample wins.
    private func commit(_ writes: ArraySlice<QueuedWrite>, sampleCount: Int) -> Result<Void, any Error> {
        guard sampleCount > 0 else { return .success(()) }
        let started = ContinuousClock.now
        var created: [SeriesKey: Int64] = [:]
        var rows: [Row] = []
        do {
            let insertSample = try connection.cached(HeadTable.insertSQL)
            try connection.cached("BEGIN IMMEDIATE").run()
            do {
                rows.reserveCapacity(sampleCount)
                for write in writes {
                    for sample in write.samples {
                        let id: Int64
                        if let known = seriesIDs[sample.key] ?? created[sample.key] {
                            id = known
                        } else {
                            id = try insertSeries(sample.key)
                            created[sample.key] = id
                        }
                        rows.append(Row(seriesID: id, timestamp: sample.timestamp, value: sample.value, order: rows.count))
                    }
                }
                // Sorted by series and ts: each series' rows are counted once below. Same
                // series and ts keep their arrival order, so the later still wins.
                rows.sort()
                for row in rows {
                    insertSample.bind(HeadTable.bucket(of: row.timestamp), at: 1)
                    insertSample.bind(row.seriesID, at: 2)
                    insertSample.bind(row.timestamp, at: 3)
                    insertSample.bind(row.value, at: 4)
                    try insertSample.run()
                }
                try connection.cached("COMMIT").run()
            } catch {
                try? connection.cached("ROLLBACK").run()
                throw error
            }
        } catch {
            let failure = (error as? SQLiteError).map(StoreError.writeFailed) ?? error
            condition.withLock {
                stats.writeErrors += 1
                stats.lastWriteError = "\(failure)"
            }
            logger.error("store write failed, batch rolled back", metadata: ["samples": "\(sampleCount)", "error": "\(failure)"])
            return .failure(failure)
        }
        // The rows are sorted by series: one count per run.
        let now = ContinuousClock.now
        var run = 0
        for (index, row) in rows.enumerated() {
            run += 1
            if index == rows.count - 1 || rows[index + 1].seriesID != row.seriesID {
                compactions.wrote(rows: run, seriesID: row.seriesID, at: now)
                run = 0
            }
        }
        seriesIDs.merge(created) { old, _ in old }
        if !created.isEmpty { registry.add(created.keys) }
        let elapsed = ContinuousClock.now - started
        batchSamples.record(sampleCount)
        commitDuration.record(duration: elapsed)
        condition.withLock {
            stats.batchesCommitted += 1
            stats.rowsWritten += sampleCount
            stats.seriesCreated += created.count
            stats.lastCommitDuration = elapsed
            stats.lastWriteError = nil
        }
        return .success(())
    }

    private func insertSeries(_ key: SeriesKey) throws -> Int64 {
        let statement = try connection.cached(Self.insertSeriesSQL)
        defer { statement.reset() }
        statement.bind(key.metric, at: 1)
        statement.bind(key.labelsJSON, at: 2)
        guard try statement.step() else {
            throw SQLiteError(code: SQLITE_ERROR, message: "no id returned for series \(key)", sql: Self.insertSeriesSQL)
        }
        return statement.int64(at: 0)
    }

    private static func loadSeries(_ connection: SQLiteConnection) throws -> [SeriesKey: Int64] {
        let statement = try connection.prepare("SELECT id, metric, labels FROM series")
        var ids: [SeriesKey: Int64] = [:]
        while try statement.step() {
            let labels = LabelJSON.decode(statement.string(at: 2)) ?? []
            ids[SeriesKey(metric: statement.string(at: 1), labels: labels)] = statement.int64(at: 0)
        }
        return ids
    }

    // MARK: - Compaction

    /// Queues, once, the series that have head rows this process did not write
    /// (an earlier run's) or rows of schema 2 to move into chunks.
    private func queueRowsLeftByEarlierRuns() {
        do {
            let legacy = try connection.prepare("SELECT 1 FROM samples WHERE series_id = ?1 LIMIT 1")
            for seriesID in seriesIDs.values.sorted() {
                legacy.bind(seriesID, at: 1)
                if try legacy.step() { compactions.enqueue(.init(seriesID: seriesID, source: .legacy)) }
                legacy.reset()
            }
            legacyRowsLeft = try hasLegacyRows()
            for seriesID in try HeadTable.latestBySeries(on: connection).keys.sorted() {
                compactions.enqueue(.init(seriesID: seriesID, source: .head))
            }
        } catch {
            logger.error("could not look for rows to compact", metadata: ["error": "\(error)"])
        }
    }

    private func hasLegacyRows() throws -> Bool {
        try connection.scalarInt("SELECT EXISTS (SELECT 1 FROM samples)") == 1
    }

    /// What one series' part of a compaction step found and did.
    private struct SeriesStep {
        /// Head (or legacy) rows older than the horizon, at most `rowsPerCompaction`.
        var closedRows = 0
        var rowsMoved = 0
        var rollupsWritten = 0
        var headRowsLeft = false
    }

    /// One compaction transaction: for `first` and, while no commit is due
    /// (unless `alone`), the next queued tasks, up to `seriesPerCompaction` in
    /// all, the oldest closed rows of the series (at most `rowsPerCompaction`
    /// each) into chunks, if the queue's rule says now. Several series share a
    /// transaction when they can because the head keeps neighbouring series'
    /// rows on the same pages: one commit writes each page once rather than
    /// once a series (`ChunkPolicy`). It stops at a series once a commit is due,
    /// because senders waiting for their acknowledgement wait for the whole
    /// transaction (remote_write, 1,000 series, 4 senders: 650k samples/s with
    /// a series a step, 524–589k with eight every eighth commit).
    private func runCompactionStep(startingWith first: CompactionQueue.Task, alone: Bool = false) {
        var tasks = [first]
        do {
            try connection.cached("BEGIN IMMEDIATE").run()
            // From the lock on: a wait for it (a checkpoint) is not the compaction's own time.
            let started = ContinuousClock.now
            var steps: [SeriesStep] = []
            let elapsed: Duration
            do {
                steps.append(try compactionStep(first, at: started))
                while !alone, tasks.count < compactions.policy.seriesPerCompaction,
                      !condition.withLock({ isCommitDue || stopping }), let task = compactions.next() {
                    tasks.append(task)
                    steps.append(try compactionStep(task, at: started))
                }
                // Up to the commit: a checkpoint that the commit's log hook may run after it is not the compaction's.
                elapsed = ContinuousClock.now - started
                try connection.cached("COMMIT").run()
            } catch {
                try? connection.cached("ROLLBACK").run()
                throw error
            }
            for (task, step) in zip(tasks, steps) {
                compactions.finished(task, closedRows: step.closedRows, rowsMoved: step.rowsMoved, headRowsLeft: step.headRowsLeft, at: started)
            }
            let rowsMoved = steps.reduce(0) { $0 + $1.rowsMoved }
            guard rowsMoved > 0 else { return }
            if tasks.contains(where: { $0.source == .legacy }) { legacyRowsLeft = (try? hasLegacyRows()) ?? true }
            condition.withLock {
                stats.compactions += 1
                stats.rowsCompacted += rowsMoved
                stats.rollupsWritten += steps.reduce(0) { $0 + $1.rollupsWritten }
                stats.longestCompaction = max(stats.longestCompaction, elapsed)
            }
            do {
                try reclaimFreePages(keeping: compactingAll ? 0 : Self.freePageSlack)
            } catch {
                logger.warning("could not give free pages back", metadata: ["error": "\(error)"])
            }
        } catch {
            // Not queued again: the series come back when more rows come, or at the next start.
            condition.withLock { stats.compactionErrors += 1 }
            logger.error("compaction failed, rolled back", metadata: [
                "series_ids": "\(tasks.map(\.seriesID))", "sources": "\(tasks.map(\.source))", "error": "\(error)",
            ])
        }
    }

    /// One series' part of a compaction step, inside its transaction.
    private func compactionStep(_ task: CompactionQueue.Task, at started: ContinuousClock.Instant) throws -> SeriesStep {
        let policy = compactions.policy
        let horizon = compactingAll || task.source == .legacy ? Int64.max : Timestamp.now() - policy.headSpan
        let rows = try Compaction.rows(
            of: task.source, seriesID: task.seriesID, before: horizon, limit: policy.rowsPerCompaction, on: connection
        )
        var step = SeriesStep(closedRows: rows.count)
        let move = compactingAll ? !rows.isEmpty : compactions.shouldMove(task, closedRows: rows.count, now: started)
        // Rows that make a short chunk wait for more, unless told to move all, or overdue
        // with nothing else to move.
        let tail: Compaction.Tail = compactingAll || task.source != .head ? .moves
            : compactions.isOverdue(task, now: started) ? .waitsUnlessAlone : .waits
        let moved = move
            ? try Compaction.move(rows, from: task.source, seriesID: task.seriesID, tail: tail, policy: policy, on: connection)
            : .none
        step.rowsMoved = moved.rows
        // Their minutes are rolled up as the rows leave the head: the moved rows are the
        // oldest ones, and every head row up to the last moved one was among them.
        // (Schema 2's rows had their rollups written with them.)
        if task.source == .head, step.rowsMoved > 0 {
            step.rollupsWritten = try RollupTable.refresh(
                leaving: rows.prefix(step.rowsMoved), seriesID: task.seriesID, rawFloor: rawFloor,
                stored: legacyRowsLeft ? nil : moved.stored, on: connection
            )
        }
        step.headRowsLeft = try HeadTable.hasRows(seriesID: task.seriesID, on: connection)
        return step
    }

    /// Gives the file's free pages beyond `slack` back to the filesystem, at
    /// most 2,048 a call (8 MB: a short transaction of its own). Compaction
    /// frees the pages of the rows it moves; new rows reuse them first, so a
    /// slack stays for them and the file does not shrink to grow again.
    private func reclaimFreePages(keeping slack: Int64) throws {
        guard reclaimsFreePages else { return }
        while let free = try connection.scalarInt("PRAGMA freelist_count"), free > slack {
            try connection.execute("PRAGMA incremental_vacuum(\(min(free - slack, 2_048)))")
            if slack > 0 { return }
        }
    }

    /// Steps until every row of every series is in a chunk. Commits still come
    /// first: each step leaves the loop for one when one is due.
    private func runCompactAll() {
        compactingAll = true
        defer { compactingAll = false }
        for seriesID in seriesIDs.values.sorted() {
            // A file with no schema-2 rows left needs no query per series for them.
            if legacyRowsLeft { compactions.enqueue(.init(seriesID: seriesID, source: .legacy)) }
            compactions.enqueue(.init(seriesID: seriesID, source: .head))
        }
        while let task = compactions.next() {
            runCompactionStep(startingWith: task)
            let (writes, stop) = condition.withLock { (takeDueCommit(), stopping) }
            if let writes { commitTaken(writes) }
            if stop { return }
        }
        do {
            try reclaimFreePages(keeping: 0)
        } catch {
            logger.warning("could not give free pages back", metadata: ["error": "\(error)"])
        }
    }

    /// One chunk of the running retention request, in its own transaction.
    private func runRetentionStep() {
        guard var run = retention else { return }
        do {
            if run.seriesIDs == nil {
                var ids: [Int64] = []
                let statement = try connection.prepare("SELECT id FROM series ORDER BY id")
                while try statement.step() { ids.append(statement.int64(at: 0)) }
                run.seriesIDs = ids
                switch run.request.table {
                case .raw:
                    run.rollupFloor = rawFloor
                    condition.withLock { rawFloorValue = max(rawFloorValue, run.request.cutoff) }
                case .rollups: break
                }
            }
            guard let ids = run.seriesIDs, run.index < ids.count else {
                retention = nil
                run.request.continuation.resume(returning: run.deleted)
                return
            }
            let (deleted, done) = try retentionStep(run.request, seriesID: ids[run.index], rollupFloor: run.rollupFloor)
            run.deleted += deleted
            if done { run.index += 1 }
            retention = run
            condition.withLock {
                switch run.request.table {
                case .raw: stats.retentionRowsDeleted += deleted
                case .rollups: stats.retentionRollupsDeleted += deleted
                }
            }
        } catch {
            retention = nil
            condition.withLock { stats.writeErrors += 1 }
            logger.error("retention failed", metadata: ["error": "\(error)"])
            run.request.continuation.resume(throwing: error)
        }
    }

    /// Deletes what `request` asks of one series, a bounded amount in one transaction.
    private func retentionStep(_ request: RetentionRequest, seriesID: Int64, rollupFloor: Int64) throws -> (deleted: Int, done: Bool) {
        switch request.table {
        case .raw:
            try connection.cached("BEGIN IMMEDIATE").run()
            do {
                let result = try RawRetention.step(
                    seriesID: seriesID, before: request.cutoff, limit: request.chunk, policy: compactions.policy,
                    rollupFloor: rollupFloor, on: connection
                )
                try connection.cached("COMMIT").run()
                return result
            } catch {
                try? connection.cached("ROLLBACK").run()
                throw error
            }
        case .rollups:
            let statement = try connection.cached("""
                DELETE FROM rollups_1m WHERE series_id = ?1 AND bucket IN
                    (SELECT bucket FROM rollups_1m WHERE series_id = ?1 AND bucket < ?2 ORDER BY bucket LIMIT ?3)
                """)
            statement.bind(seriesID, at: 1)
            statement.bind(request.cutoff, at: 2)
            statement.bind(Int64(request.chunk), at: 3)
            try statement.run()
            return (connection.changes, connection.changes < request.chunk)
        }
    }

    private func finishStopping() {
        checkpointer.detach(from: connection)
        checkpointer.stop()
        // Leave a short log behind: the next start has nothing to replay.
        do {
            try connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        } catch {
            logger.warning("final checkpoint failed", metadata: ["error": "\(error)"])
        }
        let (requests, waiters, compactWaiters) = condition.withLock {
            stopped = true
            defer { retentionRequests = []; stopWaiters = []; compactAllWaiters = [] }
            return (retentionRequests, stopWaiters, compactAllWaiters)
        }
        for waiter in compactWaiters { waiter.resume() }
        retention?.request.continuation.resume(throwing: StoreError.closed)
        retention = nil
        for request in requests { request.continuation.resume(throwing: StoreError.closed) }
        for waiter in waiters { waiter.resume() }
    }
}

/// A sample about to be inserted, in the table's key order; `order` is its
/// arrival, which settles ties.
private struct Row: Comparable {
    let seriesID: Int64
    let timestamp: Int64
    let value: Double
    let order: Int

    static func < (a: Row, b: Row) -> Bool {
        (a.seriesID, a.timestamp, a.order) < (b.seriesID, b.timestamp, b.order)
    }

    static func == (a: Row, b: Row) -> Bool {
        a.seriesID == b.seriesID && a.timestamp == b.timestamp && a.order == b.order
    }
}

/// The samples of one `write` call, and its caller if it waits for the commit.
private struct QueuedWrite {
    let samples: [Sample]
    let waiter: CheckedContinuation<Void, any Error>?
}

/// What a retention request deletes: raw samples (head rows, schema 2's rows
/// and chunks; `RawRetention`) or per-minute rollups.
enum RetentionTable {
    case raw, rollups
}

/// A request to delete rows older than a cutoff, waiting for its result.
private struct RetentionRequest {
    let table: RetentionTable
    let cutoff: Int64
    let chunk: Int
    let continuation: CheckedContinuation<Int, any Error>
}

/// The progress of one retention request, walked series by series.
private struct RetentionRun {
    let request: RetentionRequest
    var seriesIDs: [Int64]?
    var index = 0
    var deleted = 0
    /// The raw floor before this run: the minutes above it still have every sample.
    var rollupFloor: Int64 = 0
}
