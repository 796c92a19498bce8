import Foundation

/// Many `LiveLoadClient`s: connected in ramps, then measured over a window of
/// seqs (from the newest seen when the window opens to the newest seen when it
/// closes), so that every client is judged on the same frames.
final class LiveLoadGroup: Sendable {
    let clients: [LiveLoadClient]
    private let task: Task<Void, Never>

    /// What the window saw.
    struct Window {
        let published: Int
        let expected: Int
        let delivered: Int
        /// Delivery latencies in ms, sorted.
        let latencies: [Double]

        func percentile(_ p: Double) -> Double {
            latencies.isEmpty ? .nan : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]
        }

        var deliveredPercent: Double { Double(delivered) / Double(max(expected, 1)) * 100 }
    }

    /// Every process may open a file per connection: 100,000 where it may raise its
    /// hard limit (root), else as many as the hard limit allows. Servers started
    /// by the benchmark inherit it.
    static func raiseFileLimit() {
        var limit = rlimit(rlim_cur: 100_000, rlim_max: 100_000)
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) != 0 {
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            limit.rlim_cur = limit.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
    }

    /// Connects `count` clients, client `i` to `url(i)`, `rampBatch` at a time, and
    /// returns once every one has its hello.
    static func connect(_ count: Int, rampBatch: Int = 200, url: @escaping @Sendable (Int) -> String) async throws -> LiveLoadGroup {
        let clients = (0..<count).map { _ in LiveLoadClient() }
        let task = Task {
            await withTaskGroup(of: Void.self) { group in
                for (index, client) in clients.enumerated() {
                    group.addTask { await client.run(url: url(index)) }
                    if (index + 1) % rampBatch == 0 {
                        while clients[..<(index + 1)].contains(where: { !$0.counts.withLock { $0.hello } }) {
                            try? await Task.sleep(for: .milliseconds(20))
                        }
                    }
                }
            }
        }
        let group = LiveLoadGroup(clients: clients, task: task)
        let deadline = ContinuousClock.now + .seconds(120)
        while clients.contains(where: { !$0.counts.withLock { $0.hello } }) {
            guard ContinuousClock.now < deadline else {
                group.close()
                throw BenchError("not every client connected")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return group
    }

    private init(clients: [LiveLoadClient], task: Task<Void, Never>) {
        self.clients = clients
        self.task = task
    }

    private var newestSeq: Int { clients.map { $0.counts.withLock { $0.lastSeq } }.max() ?? 0 }

    /// Opens the window: frames after the newest seq seen now count; returns the first seq counted.
    @discardableResult
    func openWindow() -> Int {
        let first = newestSeq + 1
        for client in clients { client.counts.withLock { $0.recordFrom = first } }
        return first
    }

    /// Closes the window at the newest seq seen now, waits `settle` for frames of it
    /// still in flight, and tells what it saw.
    func closeWindow(from first: Int, settle: Duration = .seconds(1)) async throws -> Window {
        let last = newestSeq
        for client in clients { client.counts.withLock { $0.recordTo = last } }
        try await Task.sleep(for: settle)
        let published = max(0, last - first + 1)
        var delivered = 0
        var latencies: [Double] = []
        for client in clients {
            client.counts.withLock {
                delivered += $0.recorded
                latencies += $0.latencies
            }
        }
        return Window(published: published, expected: published * clients.count, delivered: delivered, latencies: latencies.sorted())
    }

    func close() {
        task.cancel()
    }
}
