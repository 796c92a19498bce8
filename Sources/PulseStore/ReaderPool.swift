import NIOCore
import NIOPosix
import Synchronization

/// Read-only connections for queries, used on NIO's blocking thread pool.
///
/// Queries block in SQLite, so they run on `NIOThreadPool.singleton`: never on
/// an event loop, never in the cooperative pool. There are at least as many
/// connections as that pool has threads, so a running query always finds one.
/// (A pool of threads per store was tried first: stopping it right after
/// starting it could leave its shutdown waiting forever.)
final class ReaderPool: Sendable {
    private struct State {
        var idle: [SQLiteConnection]
        var closed = false
    }

    private let state: Mutex<State>

    init(path: String, count: Int) throws {
        let count = max(count, System.coreCount, 1)
        var connections: [SQLiteConnection] = []
        for _ in 0..<count {
            let connection = try SQLiteConnection(path: path, readOnly: true)
            // GROUP BY over buckets builds a temporary b-tree: keep it in memory.
            try connection.execute("PRAGMA temp_store = MEMORY")
            connections.append(connection)
        }
        self.state = Mutex(State(idle: connections))
    }

    /// Runs `body` with a connection of its own, on a blocking-pool thread, in one read transaction.
    func read<Result: Sendable>(_ body: @Sendable @escaping (SQLiteConnection) throws -> Result) async throws -> Result {
        try await NIOThreadPool.singleton.runIfActive { [self] in
            guard let connection = self.state.withLock({ $0.closed ? nil : $0.idle.popLast() }) else { throw StoreError.closed }
            defer {
                // After close, a connection in use is dropped (closed) when its query ends.
                self.state.withLock { if !$0.closed { $0.idle.append(connection) } }
            }
            // One snapshot for the whole read. A read is many statements (a series'
            // head bucket by bucket, its chunks, the next series), and between two
            // of them the writer may move head rows into a chunk the read has passed.
            try connection.cached("BEGIN").run()
            do {
                let result = try body(connection)
                try connection.cached("COMMIT").run()
                return result
            } catch {
                try? connection.cached("ROLLBACK").run()
                throw error
            }
        }
    }

    func close() {
        state.withLock { state in
            state.closed = true
            state.idle.removeAll()
        }
    }
}
