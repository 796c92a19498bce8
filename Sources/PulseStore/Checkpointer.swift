import CSQLite
import Foundation
import Logging

/// Copies the write-ahead log back into the database file, on its own thread
/// and connection, so that the writer never waits for it.
///
/// SQLite's automatic checkpoint runs inside the COMMIT that crosses the
/// threshold, on the writer's thread, with an fsync of the database file: every
/// `.committed` caller queued behind that commit waited for it (measured: ingest
/// went from about 106k to 185k samples/s without it). Here the writer's WAL
/// hook only signals this thread, which runs a PASSIVE checkpoint: it never
/// blocks the writer or the readers. Should the log still grow past
/// `hardLimitPages` (the checkpointer starved, or held off by a long read), the
/// writer checkpoints inline, as SQLite would have.
final class Checkpointer: @unchecked Sendable {
    /// WAL pages after a commit that start a checkpoint (SQLite's default too).
    static let thresholdPages: Int32 = 1_000
    static let hardLimitPages: Int32 = 32_768  // 128 MB of 4 KB pages
    /// Under steady writes the log passes the threshold at every commit: checkpoint
    /// at most this often. A page rewritten by many commits in between is then copied
    /// to the database file (and synced) once instead of once per commit.
    static let minimumInterval: TimeInterval = 1

    private let connection: SQLiteConnection
    private let logger: Logger
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var requested = false
    private var stopping = false
    private var stopped = false
    private var completed = 0

    init(path: String, logger: Logger) throws {
        connection = try SQLiteConnection(path: path, readOnly: false)
        self.logger = logger
        let thread = Thread { [self] in run() }
        thread.name = "pulsegate-store-checkpointer"
        thread.start()
    }

    /// Checkpoints completed so far.
    var checkpoints: Int { condition.withLock { completed } }

    /// Routes the WAL hook of `writer` (called on the writer's thread after each
    /// commit) to this checkpointer; replaces SQLite's automatic checkpoint.
    /// The hook holds this object until `detach` is called.
    func attach(to writer: SQLiteConnection) {
        sqlite3_wal_hook(writer.handle, { context, db, _, pages in
            let checkpointer = Unmanaged<Checkpointer>.fromOpaque(context!).takeUnretainedValue()
            if pages >= Checkpointer.hardLimitPages {
                sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
            } else if pages >= Checkpointer.thresholdPages {
                checkpointer.request()
            }
            return SQLITE_OK
        }, Unmanaged.passRetained(self).toOpaque())
    }

    /// Removes the hook (on the writer's thread) and releases what it held.
    func detach(from writer: SQLiteConnection) {
        sqlite3_wal_hook(writer.handle, nil, nil)
        Unmanaged.passUnretained(self).release()
    }

    func request() {
        condition.withLock {
            requested = true
            condition.signal()
        }
    }

    /// Finishes the checkpoint under way, if any, and ends the thread.
    func stop() {
        condition.withLock {
            stopping = true
            condition.broadcast()
            while !stopped { condition.wait() }
        }
    }

    private func run() {
        while true {
            let stop = condition.withLock {
                while !requested && !stopping { condition.wait() }
                requested = false
                return stopping
            }
            if stop { break }
            let started = Date()
            var logPages: Int32 = 0
            var copiedPages: Int32 = 0
            let rc = sqlite3_wal_checkpoint_v2(connection.handle, nil, SQLITE_CHECKPOINT_PASSIVE, &logPages, &copiedPages)
            if rc == SQLITE_OK {
                condition.withLock { completed += 1 }
            } else if rc != SQLITE_BUSY {
                logger.warning("checkpoint failed", metadata: ["error": "\(connection.error(rc, sql: nil))"])
            }
            // Requests that come meanwhile are served after the pause, by one checkpoint.
            let resume = started.addingTimeInterval(Self.minimumInterval)
            condition.withLock {
                while !stopping, Date() < resume { _ = condition.wait(until: resume) }
            }
        }
        condition.withLock {
            stopped = true
            condition.broadcast()
        }
    }
}
