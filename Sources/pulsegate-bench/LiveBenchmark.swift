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
        LiveLoadGroup.raiseFileLimit()

        var arguments = ["--collect-interval", "0", "--max-connections", "\(clients + 100)", "--batch-age", "1s"]
        if rate > 0 { arguments += ["--synthetic-series", "\(series)", "--synthetic-rate", "\(rate)"] }
        let process = try ServerProcess(binary: server, arguments: arguments)
        defer { process.stop() }
        try await process.start()
        try await Task.sleep(for: .seconds(1))
        let baselineRSS = process.residentBytes
        let url = "ws://127.0.0.1:\(process.port)/ws/metrics"
        print("live: \(clients) clients, \(rate > 0 ? "\(rate) frames/s of \(series) series" : "idle"), \(duration) s measured, server pid \(process.process.processIdentifier)")

        let group = try await LiveLoadGroup.connect(clients, rampBatch: rampBatch) { _ in url }
        defer { group.close() }
        try await Task.sleep(for: .seconds(rate > 0 ? 1 : 3))

        if rate == 0 {
            let rss = process.residentBytes
            print("idle: RSS \(Measure.format(baselineRSS / 1_048_576, 1)) MiB before, \(Measure.format(rss / 1_048_576, 1)) MiB with \(clients) connections")
            print("result: \(Measure.format((rss - baselineRSS) / Double(clients) / 1024, 2)) KB of server RSS per idle connection (target ≤ 12 KB at 5,000)")
            return
        }

        let first = group.openWindow()
        let cpuStart = process.cpuSeconds
        let started = ContinuousClock.now
        try await Task.sleep(for: .seconds(duration))
        let cpuEnd = process.cpuSeconds
        let elapsed = (ContinuousClock.now - started).seconds
        let window = try await group.closeWindow(from: first)
        let delivered = window.delivered
        let cpu = cpuEnd - cpuStart
        print("window: \(window.published) frames published in \(Measure.format(elapsed, 2)) s; \(delivered) of \(window.expected) delivered (\(Measure.format(window.deliveredPercent, 3)) %)")
        print("result: \(Measure.format(Double(delivered) / elapsed)) delivered messages/s; latency p50 \(Measure.format(window.percentile(0.5), 2)) ms, p99 \(Measure.format(window.percentile(0.99), 2)) ms, max \(Measure.format(window.latencies.last ?? .nan, 2)) ms")
        print("result: server CPU \(Measure.format(cpu, 2)) s = \(Measure.format(cpu / Double(max(delivered, 1)) * 1e6, 2)) µs per delivered message; RSS \(Measure.format(process.residentBytes / 1_048_576, 1)) MiB")
    }
}
