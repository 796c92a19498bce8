import ArgumentParser
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// Cluster mode on this machine: acknowledged samples/s through three nodes
/// on one PostgreSQL, beside the same load on one embedded node and a plain
/// COPY loop into the same PostgreSQL table, in the same run; then live
/// delivery across nodes (pushes on node 1, clients on nodes 2 and 3).
struct ClusterBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Cluster ingest (3 nodes × pushers) vs one embedded node vs a plain COPY loop; cross-node live latency."
    )

    @Option(help: "The pulsegate binary to start (a release build).") var server = ".build/release/pulsegate"
    @Option(help: "Nodes.") var nodes = 3
    @Option(help: "Pushers per node.") var pushersPerNode = 4
    @Option(help: "Samples per request.") var batch = 1_000
    @Option(help: "Series each pusher owns.") var seriesPerPusher = 25
    @Option(help: "Seconds measured per ingest run.") var duration = 10.0
    @Option(help: "Ingest runs (cluster, embedded node and COPY loop in turn each time); medians are reported.") var runs = 3
    @Option(help: "Live clients, spread over every node but the first.") var clients = 1_000
    @Option(help: "Frames pushed per second on the first node, for the live part; 0 skips it.") var rate = 10.0
    @Option(help: "Seconds of the live part.") var liveDuration = 10.0

    func run() async throws {
        LiveLoadGroup.raiseFileLimit()

        let postgres = try BenchPostgres()
        defer { postgres.stop() }
        let pushers = nodes * pushersPerNode
        print("cluster: \(nodes) nodes × \(pushersPerNode) pushers of \(batch)-sample JSON requests, \(duration) s per run, \(runs) runs; PostgreSQL on this machine")

        var servers: [ServerProcess] = []
        defer { for server in servers { server.stop() } }
        for node in 1...nodes {
            let process = try ServerProcess(binary: server, arguments: [
                "--collect-interval", "0", "--postgres-url", postgres.url, "--node", "node-\(node)", "--max-connections", "\(clients + 100)",
            ])
            try await process.start()
            servers.append(process)
        }
        let embedded = try ServerProcess(binary: server, arguments: ["--collect-interval", "0"])
        try await embedded.start()
        defer { embedded.stop() }

        // 1. Live across nodes, first: after the bulk pushes below, PostgreSQL's
        // checkpoints and autovacuum would be what a frame waits for.
        if rate > 0, nodes > 1 { try await live(servers: servers) }

        // 2. Ingest, in turns: the cluster, the same load on one embedded node, and a
        // plain COPY loop into the same table in transactions of the size the nodes commit.
        var cluster: [Double] = [], single: [Double] = [], copied: [Double] = []
        let start = (Int64(Date().timeIntervalSince1970) / 60 - 60) * 60_000
        for run in 1...max(1, runs) {
            let outcome = try await PushLoad(pushers: requests(pushers: pushers, metric: "bench_cluster_\(run)", start: start).enumerated().map { index, requests in
                (servers[index % nodes].port, requests)
            }, batch: batch).run(for: duration)
            report("run \(run): cluster (\(nodes) nodes)", outcome)
            cluster.append(outcome.samplesPerSecond)
            let alone = try await PushLoad(pushers: requests(pushers: pushers, metric: "bench_embedded_\(run)", start: start).map { (embedded.port, $0) }, batch: batch)
                .run(for: duration)
            report("run \(run): one embedded node", alone)
            single.append(alone.samplesPerSecond)
            copied.append(try await copyLoop(url: postgres.url, metric: "bench_copy_\(run)", seconds: duration))
            print("run \(run): plain COPY loop into samples: \(Measure.format(copied.last!)) rows/s")
        }
        let (clusterRate, copyRate) = (Measure.median(cluster), Measure.median(copied))
        let shares = zip(cluster, copied).map { Measure.format($0 / $1 * 100, 1) }.joined(separator: ", ")
        print("result: cluster ingest \(Measure.format(clusterRate)) acknowledged samples/s (median of \(cluster.count): \(cluster.map { Measure.format($0) }.joined(separator: ", "))), target ≥ 100,000")
        print("result: \(Measure.format(clusterRate / copyRate * 100, 1)) % of the COPY loop's median \(Measure.format(copyRate)) rows/s (per run: \(shares) %), target ≥ 50 %")
        print("result: one embedded node, same load: \(Measure.format(Measure.median(single))) acknowledged samples/s (median of \(single.count))")
    }

    private func report(_ name: String, _ outcome: PushLoad.Outcome) {
        print("\(name): \(Measure.format(outcome.samplesPerSecond)) acknowledged samples/s (\(outcome.accepted) in \(Measure.format(outcome.elapsed, 2)) s, \(outcome.failedRequests) failed requests)\(outcome.ranOut ? " (the prepared requests ran out)" : "")")
    }

    /// Each pusher's requests: its own series, one tick of them after another, 1 s apart.
    private func requests(pushers: Int, metric: String, start: Int64) -> [[[UInt8]]] {
        let perPusher = Int(duration * 600_000) / (pushers * batch) + 1
        return (0..<pushers).map { pusher in
            (0..<perPusher).map { request in
                PlainHTTPConnection.post(path: "/ingest", contentType: "application/json", body: IngestBenchmark.body(batch: batch, metric: metric) { index in
                    let tick = Int64(request * ((batch + seriesPerPusher - 1) / seriesPerPusher) + index / seriesPerPusher)
                    return (pusher * seriesPerPusher + index % seriesPerPusher, start + tick * 1000)
                })
            }
        }
    }

    /// Rows/s of COPY into `samples` (text format, as the nodes send), 10,000 rows a transaction.
    private func copyLoop(url: String, metric: String, seconds: Double) async throws -> Double {
        guard let components = URLComponents(string: url) else { throw BenchError("bad URL") }
        var logger = Logger(label: "bench-copy")
        logger.logLevel = .error
        let connection = try await PostgresConnection.connect(configuration: .init(
            host: components.host ?? "127.0.0.1", port: components.port ?? 5432, username: components.user ?? "",
            password: components.password, database: String(components.path.dropFirst()), tls: .disable
        ), id: 1, logger: logger)
        defer { Task { try? await connection.close() } }
        try await connection.query("INSERT INTO series(metric, labels) VALUES (\(metric), '{}') ON CONFLICT DO NOTHING", logger: logger)
        let id = try await connection.query("SELECT id FROM series WHERE metric = \(metric)", logger: logger).collect().first?.decode(Int64.self) ?? 0
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(seconds)
        let started = clock.now
        var rows = 0
        var ts = (Int64(Date().timeIntervalSince1970) / 60 - 30) * 60_000
        while clock.now < deadline {
            var buffer = ByteBuffer()
            for _ in 0..<10_000 {
                ts += 1
                buffer.writeString("\(id)\t\(ts)\t\(Double(ts % 1000) / 7)\n")
            }
            try await connection.copyFrom(table: "samples", columns: ["series_id", "ts", "value"], logger: logger) { try await $0.write(buffer) }
            rows += 10_000
        }
        return Double(rows) / (clock.now - started).seconds
    }

    /// `rate` pushes a second on node 1 (10 samples each); `clients` WebSocket clients on the others.
    private func live(servers: [ServerProcess]) async throws {
        let receivers = Array(servers.dropFirst())
        let ports = receivers.map(\.port)
        let group = try await LiveLoadGroup.connect(clients) { "ws://127.0.0.1:\(ports[$0 % ports.count])/ws/metrics" }
        defer { group.close() }
        // The pusher: one connection, a 10-sample request every 1/rate s, on its own thread.
        let pusher = PusherState()
        let port = servers[0].port
        let connection = try PlainHTTPConnection(port: port)
        let interval = 1 / rate
        let done = DispatchGroup()
        done.enter()
        Thread.detachNewThread {
            var next = Date().timeIntervalSince1970
            while !pusher.stop.load(ordering: .relaxed) {
                let ts = Int64(Date().timeIntervalSince1970 * 1000)
                let body = IngestBenchmark.body(batch: 10, metric: "bench_live") { (series: $0, ts: ts) }
                if (try? connection.exchange(PlainHTTPConnection.post(path: "/ingest", contentType: "application/json", body: body))) == 200 {
                    pusher.pushed.add(1, ordering: .relaxed)
                }
                next += interval
                let wait = next - Date().timeIntervalSince1970
                if wait > 0 { usleep(UInt32(wait * 1_000_000)) }
            }
            done.leave()
        }
        try await Task.sleep(for: .seconds(1))
        let first = group.openWindow()
        let cpuStart = servers.map(\.cpuSeconds)
        try await Task.sleep(for: .seconds(liveDuration))
        let cpu = zip(servers.map(\.cpuSeconds), cpuStart).map { $0 - $1 }
        let window = try await group.closeWindow(from: first)
        pusher.stop.store(true, ordering: .relaxed)
        await withCheckedContinuation { continuation in done.notify(queue: .global()) { continuation.resume() } }

        print("live: \(clients) clients on nodes 2…\(servers.count), \(rate) pushes/s on node 1 (\(pusher.pushed.load(ordering: .relaxed)) pushed)")
        print("result: \(window.delivered) of \(window.expected) frames delivered (\(Measure.format(window.deliveredPercent, 3)) %); push-to-client latency p50 \(Measure.format(window.percentile(0.5), 2)) ms, p99 \(Measure.format(window.percentile(0.99), 2)) ms, max \(Measure.format(window.latencies.last ?? .nan, 2)) ms (target p99 ≤ 50 ms, every frame)")
        print("result: node CPU over the live part: " + cpu.enumerated().map { "node-\($0.offset + 1) \(Measure.format($0.element, 2)) s" }.joined(separator: ", "))
    }
}

/// What the live part's pusher thread shares with the benchmark.
private final class PusherState: Sendable {
    let stop = Atomic<Bool>(false)
    let pushed = Atomic<Int>(0)
}
