import NIOPosix
import Synchronization

/// Read-only connections and the threads that use them.
///
/// Queries block in SQLite, so they run on a thread pool of their own, one
/// connection per thread: never on an event loop, never in the cooperative pool.
final class ReaderPool: Sendable {
    private let threads: NIOThreadPool
    private let idle: Mutex<[SQLiteConnection]>

    init(path: String, count: Int) throws {
        let count = max(1, count)
        var connections: [SQLiteConnection] = []
        for _ in 0..<count {
            let connection = try SQLiteConnection(path: path, readOnly: true)
            // GROUP BY over buckets builds a temporary b-tree: keep it in memory.
            try connection.execute("PRAGMA temp_store = MEMORY")
            connections.append(connection)
        }
        self.idle = Mutex(connections)
        self.threads = NIOThreadPool(numberOfThreads: count)
        threads.start()
    }

    /// Runs `body` with a connection of its own, on a reader thread.
    func read<Result: Sendable>(_ body: @Sendable @escaping (SQLiteConnection) throws -> Result) async throws -> Result {
        try await threads.runIfActive { [self] in
            // The pool has as many connections as threads, so one is always free here.
            guard let connection = self.idle.withLock({ $0.popLast() }) else { throw StoreError.closed }
            defer { self.idle.withLock { $0.append(connection) } }
            return try body(connection)
        }
    }

    func close() async {
        try? await threads.shutdownGracefully()
        idle.withLock { $0.removeAll() }
    }
}
