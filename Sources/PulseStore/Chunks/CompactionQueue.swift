import Foundation

/// Which series the writer compacts next, decided from what it wrote, without
/// asking SQLite. Owned by the writer's thread.
///
/// A series is queued once it has `rowsPerCompaction` head rows written since
/// its last compaction, or once its oldest such row has waited `maxHeadWait`.
/// The counts are upper bounds (an overwrite counts too): a queued series whose
/// closed rows turn out to be too few is only looked at, not compacted.
/// Series whose head was never seen by this process (written before a restart,
/// or rows of schema 2 to migrate) are queued once when it starts.
struct CompactionQueue {
    private struct Head {
        var rows = 0
        var since: ContinuousClock.Instant
    }

    /// A series to compact, and from which rows.
    struct Task: Hashable {
        let seriesID: Int64
        let source: Compaction.Source
    }

    let policy: ChunkPolicy
    /// Series with head rows written by this process since their last compaction.
    private var heads: [Int64: Head] = [:]
    /// A FIFO: tasks from `first` on are waiting.
    private var queued: [Task] = []
    private var first = 0
    private var isQueued: Set<Task> = []
    private var lastSweep = ContinuousClock.now

    init(policy: ChunkPolicy) {
        self.policy = policy
    }

    var isEmpty: Bool { first == queued.count }

    /// Whether some series has head rows this process is waiting to compact.
    var hasHeads: Bool { !heads.isEmpty }

    /// Takes in the rows a committed transaction wrote to the head.
    mutating func wrote(rows: Int, seriesID: Int64, at now: ContinuousClock.Instant) {
        var head = heads[seriesID] ?? Head(since: now)
        head.rows += rows
        heads[seriesID] = head
        if head.rows >= policy.rowsPerCompaction { enqueue(Task(seriesID: seriesID, source: .head)) }
    }

    /// Queues every series whose head rows have waited too long; a scan of
    /// every series, so at most once a second.
    mutating func sweep(now: ContinuousClock.Instant) {
        guard now - lastSweep >= .seconds(1) else { return }
        lastSweep = now
        for (seriesID, head) in heads where now - head.since >= policy.maxHeadWait {
            enqueue(Task(seriesID: seriesID, source: .head))
        }
    }

    mutating func enqueue(_ task: Task) {
        if isQueued.insert(task).inserted { queued.append(task) }
    }

    mutating func next() -> Task? {
        guard first < queued.count else { return nil }
        let task = queued[first]
        first += 1
        if first == queued.count {
            queued.removeAll(keepingCapacity: true)
            first = 0
        }
        isQueued.remove(task)
        return task
    }

    /// Whether a step of `task` that found `closedRows` rows older than the
    /// horizon (at most `rowsPerCompaction`) moves them now. A series whose
    /// head this process has not seen written moves what it has.
    func shouldMove(_ task: Task, closedRows: Int, now: ContinuousClock.Instant) -> Bool {
        guard closedRows > 0 else { return false }
        guard task.source == .head, heads[task.seriesID] != nil else { return true }
        return closedRows >= policy.rowsPerCompaction || isOverdue(task, now: now)
    }

    /// Whether the series' head rows have waited `maxHeadWait`: then they move
    /// even when they make a short chunk.
    func isOverdue(_ task: Task, now: ContinuousClock.Instant) -> Bool {
        guard task.source == .head, let head = heads[task.seriesID] else { return false }
        return now - head.since >= policy.maxHeadWait
    }

    /// After a step of `task` that found `closedRows` rows older than the
    /// horizon and moved `rowsMoved` of them. When it found a full
    /// transaction's rows and moved some, more may be waiting: the series is
    /// queued again. The rows it left (the start of a chunk not yet full) are
    /// counted, and keep their wait, unless the step was overdue: those then
    /// wait `maxHeadWait` again for the rows that fill their chunk (they move
    /// alone only once nothing comes that makes a whole one,
    /// `Compaction.Tail`). Rows newer than the horizon go uncounted (the
    /// counts are bounds).
    mutating func finished(_ task: Task, closedRows: Int, rowsMoved: Int, headRowsLeft: Bool, at now: ContinuousClock.Instant) {
        if rowsMoved > 0, closedRows >= policy.rowsPerCompaction { enqueue(task) }
        guard task.source == .head else { return }
        guard headRowsLeft else {
            heads[task.seriesID] = nil
            return
        }
        let left = closedRows - rowsMoved
        if let head = heads[task.seriesID] {
            let waitsAgain = rowsMoved > 0 && (left == 0 || isOverdue(task, now: now))
            heads[task.seriesID] = Head(rows: left, since: waitsAgain ? now : head.since)
        } else {
            heads[task.seriesID] = Head(rows: left, since: now)
        }
    }
}
