import ArgumentParser
import Foundation
import PulseCore

/// N WebSocket clients against a release `pulsegate` publishing synthetic
/// series; reports delivery, latency, server CPU per delivered message, and
/// server RSS per connection.
struct LiveBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "live",
        abstract: "Live stream load: delivered messages/s, delivered/expected, latency p50/p99, server CPU per message, RSS per connection."
    )

    @Option(help: "The pulsegate binary to start (a release build).") var server = ".build/release/pulsegate"
    @Option(help: "WebSocket connections.") var clients = 1_000
    @Option(help: "Frames published per second (synthetic source rate); 0 measures idle connections.") var rate = 20.0
    @Option(help: "Series per frame.") var series = 10
    @Option(help: "Seconds measured, after every client has connected and a warm-up second.") var duration = 10.0
    @Option(help: "Connections opened at once while ramping up.") var rampBatch = 200

    func run() async throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)

        var arguments = ["--collect-interval", "0", "--max-connections", "\(clients + 100)", "--batch-age", "1s"]
        if rate > 0 { arguments += ["--synthetic-series", "\(series)", "--synthetic-rate", "\(rate)"] }
        let process = try ServerProcess(binary: server, arguments: arguments)
        defer { process.stop() }
        try await process.start()
        try await Task.sleep(for: .seconds(1))
        let baselineRSS = process.residentBytes
        let url = "ws://127.0.0.1:\(process.port)/ws/metrics"
        print("live: \(clients) clients, \(rate > 0 ? "\(rate) frames/s of \(series) series" : "idle"), \(duration) s measured, server pid \(process.process.processIdentifier)")

        let loadClients = (0..<clients).map { _ in LiveLoadClient() }
        let tasks = Task {
            await withTaskGroup(of: Void.self) { group in
                for (index, client) in loadClients.enumerated() {
                    group.addTask { await client.run(url: url) }
                    if (index + 1) % rampBatch == 0 {
                        while loadClients[..<(index + 1)].contains(where: { !$0.counts.withLock { $0.hello } }) {
                            try? await Task.sleep(for: .milliseconds(20))
                        }
                    }
                }
            }
        }
        defer { tasks.cancel() }
        let connectDeadline = ContinuousClock.now + .seconds(120)
        while loadClients.contains(where: { !$0.counts.withLock { $0.hello } }) {
            guard ContinuousClock.now < connectDeadline else { throw BenchError("not every client connected") }
            try await Task.sleep(for: .milliseconds(50))
        }
        try await Task.sleep(for: .seconds(rate > 0 ? 1 : 3))

        if rate == 0 {
            let rss = process.residentBytes
            print("idle: RSS \(Measure.format(baselineRSS / 1_048_576, 1)) MiB before, \(Measure.format(rss / 1_048_576, 1)) MiB with \(clients) connections")
            print("result: \(Measure.format((rss - baselineRSS) / Double(clients) / 1024, 2)) KB of server RSS per idle connection (target ≤ 12 KB at 5,000)")
            return
        }

        // The window: frames whose seq lies between the newest seq seen now and the newest seen at the end.
        let startSeq = loadClients.map { $0.counts.withLock { $0.lastSeq } }.max()! + 1
        for client in loadClients { client.counts.withLock { $0.recordFrom = startSeq } }
        let cpuStart = process.cpuSeconds
        let started = ContinuousClock.now
        try await Task.sleep(for: .seconds(duration))
        let cpuEnd = process.cpuSeconds
        let elapsed = (ContinuousClock.now - started).seconds
        let endSeq = loadClients.map { $0.counts.withLock { $0.lastSeq } }.max()!
        for client in loadClients { client.counts.withLock { $0.recordTo = endSeq } }
        try await Task.sleep(for: .seconds(1))  // frames of the window still in flight

        let published = endSeq - startSeq + 1
        let expected = published * clients
        var delivered = 0
        var latencies: [Double] = []
        latencies.reserveCapacity(expected)
        for client in loadClients {
            client.counts.withLock {
                delivered += $0.recorded
                latencies += $0.latencies
            }
        }
        latencies.sort()
        func percentile(_ p: Double) -> Double { latencies.isEmpty ? .nan : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        let cpu = cpuEnd - cpuStart
        print("window: \(published) frames published in \(Measure.format(elapsed, 2)) s; \(delivered) of \(expected) delivered (\(Measure.format(Double(delivered) / Double(expected) * 100, 3)) %)")
        print("result: \(Measure.format(Double(delivered) / elapsed)) delivered messages/s; latency p50 \(Measure.format(percentile(0.5), 2)) ms, p99 \(Measure.format(percentile(0.99), 2)) ms, max \(Measure.format(latencies.last ?? .nan, 2)) ms")
        print("result: server CPU \(Measure.format(cpu, 2)) s = \(Measure.format(cpu / Double(max(delivered, 1)) * 1e6, 2)) µs per delivered message; RSS \(Measure.format(process.residentBytes / 1_048_576, 1)) MiB")
    }
}
