import ArgumentParser
import Foundation
import PulseCore
import Synchronization

/// Hours of a production day in minutes: a release `pulsegate` on loopback
/// holding `--clients` live WebSocket clients, `--ingest-rate` pushed samples
/// a second and a steady stream of history queries, for `--duration`. Reports
/// errors, delivery and the server's RSS over time.
struct SoakBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "Sustained load (live clients, pushes, history queries) on loopback: errors, delivery, RSS at start and end."
    )

    @Option(help: "The pulsegate binary to start (a release build).") var server = ".build/release/pulsegate"
    @Option(help: "Live WebSocket clients, each subscribed to the collector's host_* series.") var clients = 2_000
    @Option(help: "Pushed samples per second (1,000-sample requests from two connections).") var ingestRate = 50_000
    @Option(help: "Seconds of load.") var duration = 600.0
    @Option(help: "History queries per second (one connection).") var historyRate = 5.0

    /// What the load threads saw, shared with the reporting task.
    final class Tally: Sendable {
        struct Counts {
            var pushed = 0
            var pushErrors = 0
            var queries = 0
            var queryErrors = 0
            var queryMilliseconds: [Double] = []
        }
        let counts = Mutex(Counts())
        let stop = Atomic<Bool>(false)
        /// Live connections that ended before the load did.
        let ended = Atomic<Int>(0)
    }

    func run() async throws {
        let process = try ServerProcess(binary: server, arguments: ["--collect-interval", "1s", "--max-connections", "\(clients + 100)"])
        defer { process.stop() }
        try await process.start()
        let port = process.port
        say("soak: \(clients) live clients, \(ingestRate) pushed samples/s, \(historyRate) history queries/s, \(Int(duration)) s, on 127.0.0.1:\(port)")

        let tally = Tally()
        // Live clients, connected in waves so that the upgrades do not all come at once.
        let live = (0..<clients).map { _ in LiveLoadClient() }
        var connections: [Task<Void, Never>] = []
        for (index, client) in live.enumerated() {
            connections.append(Task {
                await client.run(url: "ws://127.0.0.1:\(port)/ws/metrics?metric=host_*")
                if !tally.stop.load(ordering: .relaxed) { tally.ended.add(1, ordering: .relaxed) }
            })
            if index % 200 == 199 { try await Task.sleep(for: .milliseconds(100)) }
        }
        let connectDeadline = ContinuousClock.now + .seconds(60)
        while live.contains(where: { !$0.counts.withLock(\.hello) }), ContinuousClock.now < connectDeadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        let connected = live.filter { $0.counts.withLock(\.hello) }.count
        let framesBefore = live.map { $0.counts.withLock(\.frames) }
        let rssStart = process.residentBytes
        let cpuStart = process.cpuSeconds
        say("start: \(connected) of \(clients) clients connected; server RSS \(Measure.format(rssStart / 1_048_576, 1)) MiB")

        let clock = ContinuousClock()
        let firstTimestamp = Int64(Date().timeIntervalSince1970 * 1000) - 3_600_000
        let started = clock.now
        let threads = DispatchGroup()
        let pushers = 2
        for pusher in 0..<pushers {
            let connection = try PlainHTTPConnection(port: port)
            threads.enter()
            Thread.detachNewThread { [ingestRate] in
                defer { threads.leave() }
                pace(perSecond: Double(ingestRate) / 1_000 / Double(pushers), tally: tally) { tick in
                    let request = PlainHTTPConnection.post(path: "/ingest", contentType: "application/json", body: Self.body(pusher: pusher, tick: tick, from: firstTimestamp))
                    let status = try? connection.exchange(request)
                    tally.counts.withLock { status == 200 ? ($0.pushed += 1_000) : ($0.pushErrors += 1) }
                }
            }
        }
        let historyConnection = try PlainHTTPConnection(port: port)
        threads.enter()
        Thread.detachNewThread { [historyRate] in
            defer { threads.leave() }
            let queries = [
                PlainHTTPConnection.get(path: "/history?metric=soak&s=s7&from=-5m&points=300&agg=avg"),
                PlainHTTPConnection.get(path: "/history?metric=host_cpu_usage_ratio&cpu=all&from=-15m"),
                PlainHTTPConnection.get(path: "/api/series?prefix=host_"),
            ]
            pace(perSecond: historyRate, tally: tally) { tick in
                let begun = ContinuousClock.now
                let status = try? historyConnection.exchange(queries[tick % queries.count])
                let milliseconds = (ContinuousClock.now - begun).seconds * 1000
                tally.counts.withLock {
                    $0.queries += 1
                    if status != 200 { $0.queryErrors += 1 }
                    $0.queryMilliseconds.append(milliseconds)
                }
            }
        }

        var rss: [Double] = [rssStart]
        while clock.now - started < .seconds(duration) {
            try await Task.sleep(for: .seconds(min(30, duration)))
            rss.append(process.residentBytes)
            let counts = tally.counts.withLock { $0 }
            say("""
                \(Int((clock.now - started).seconds)) s: pushed \(counts.pushed) (\(counts.pushErrors) errors), \
                \(counts.queries) queries (\(counts.queryErrors) errors), RSS \(Measure.format(rss.last! / 1_048_576, 1)) MiB
                """)
        }
        tally.stop.store(true, ordering: .relaxed)
        await withCheckedContinuation { continuation in threads.notify(queue: .global()) { continuation.resume() } }
        let elapsed = (clock.now - started).seconds
        let cpu = process.cpuSeconds - cpuStart
        let rssEnd = process.residentBytes

        let frames = zip(live, framesBefore).map { $0.counts.withLock(\.frames) - $1 }.sorted()
        let dropped = tally.ended.load(ordering: .relaxed)
        let counts = tally.counts.withLock { $0 }
        let latencies = counts.queryMilliseconds.sorted()
        func percentile(_ p: Double) -> Double { latencies.isEmpty ? .nan : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        say("""
            result: \(Measure.format(elapsed, 0)) s; \
            pushed \(Measure.format(Double(counts.pushed) / elapsed)) samples/s acknowledged, \(counts.pushErrors) push errors; \
            \(counts.queries) history queries, \(counts.queryErrors) errors, p50 \(Measure.format(percentile(0.5), 2)) ms, p99 \(Measure.format(percentile(0.99), 2)) ms; \
            live frames per client min \(frames.first ?? 0) / median \(frames.isEmpty ? 0 : frames[frames.count / 2]) / max \(frames.last ?? 0) \
            (delivered/expected \(Measure.format(Double(frames.reduce(0, +)) / Double(max(1, (frames.last ?? 0) * frames.count)), 4))), \
            \(dropped) live connections ended early; \
            server RSS \(Measure.format(rssStart / 1_048_576, 1)) MiB at start, \(Measure.format(rssEnd / 1_048_576, 1)) MiB at end \
            (max \(Measure.format(rss.max()! / 1_048_576, 1))); server CPU \(Measure.format(cpu / elapsed * 100, 0))% of a core
            """)
        for task in connections { task.cancel() }
    }

    /// A line on standard output at once: `print` keeps what it writes to a file
    /// until its buffer fills, and a 10-minute run would show nothing until the end.
    private func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    /// Calls `body` `perSecond` times a second (tick 0, 1, 2, …) until the tally says stop,
    /// catching up after a slow call rather than drifting.
    private func pace(perSecond: Double, tally: Tally, _ body: (Int) -> Void) {
        let interval = 1 / perSecond
        let start = Date()
        var tick = 0
        while !tally.stop.load(ordering: .relaxed) {
            body(tick)
            tick += 1
            let wait = start.addingTimeInterval(Double(tick) * interval).timeIntervalSinceNow
            if wait > 0 { Thread.sleep(forTimeInterval: wait) }
        }
    }

    /// 1,000 samples: 100 series of pusher `pusher`, ten timestamps 1 ms apart,
    /// after those of the request before (every ts new: no overwrites).
    private static func body(pusher: Int, tick: Int, from first: Int64) -> [UInt8] {
        var text = #"{"samples":["#
        text.reserveCapacity(80_000)
        for index in 0..<1_000 {
            if index > 0 { text += "," }
            text += #"{"metric":"soak","labels":{"p":"\#(pusher)","s":"s\#(index % 100)"},"ts":\#(first + Int64(tick) * 10 + Int64(index / 100)),"value":\#(tick + index)}"#
        }
        return Array((text + "]}").utf8)
    }
}
