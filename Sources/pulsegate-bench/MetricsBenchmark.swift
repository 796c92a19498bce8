import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore

/// `GET /metrics` through HTTP against a release `pulsegate` publishing
/// `--series` synthetic series: the gateway's own instrumentation plus the
/// latest value of every live series, one keep-alive client, request by request.
struct MetricsBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Median latency of GET /metrics with N live series (synthetic)."
    )

    @Option(help: "The pulsegate binary to start (a release build).") var server = ".build/release/pulsegate"
    @Option(help: "Live series the server publishes (its synthetic source).") var series = 10_000
    @Option(help: "Requests; the median is reported.") var runs = 200

    func run() async throws {
        // One publish a second: the series stay live while the scrapes are measured.
        let process = try ServerProcess(binary: server, arguments: [
            "--collect-interval", "0", "--synthetic-series", "\(series)", "--synthetic-rate", "1",
        ])
        defer { process.stop() }
        try await process.start()
        let url = "http://127.0.0.1:\(process.port)/metrics"
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            // Wait for every series to have been published once.
            let deadline = ContinuousClock.now + .seconds(30)
            while try exposedSeries(try await http.getOK(url)) < series {
                guard ContinuousClock.now < deadline else { throw BenchError("the server did not expose \(series) series within 30 s") }
                try await Task.sleep(for: .milliseconds(200))
            }
            for _ in 0..<20 { _ = try await http.getOK(url) }  // warm up
            let clock = ContinuousClock()
            var times: [Double] = []
            var bytes = 0
            for _ in 0..<runs {
                let started = clock.now
                bytes = try await http.getOK(url).readableBytes
                times.append((clock.now - started).seconds * 1000)
            }
            let sorted = times.sorted()
            print("""
                metrics: \(series) live series, \(bytes) bytes: median \(Measure.format(Measure.median(times), 2)) ms, \
                p90 \(Measure.format(sorted[sorted.count * 9 / 10], 2)) ms (target ≤ 10 ms)
                """)
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    /// `pulsegate_exposed_series`, as the server says it.
    private func exposedSeries(_ body: ByteBuffer) throws -> Int {
        let text = String(buffer: body)
        guard let range = text.range(of: "\npulsegate_exposed_series ") else { return 0 }
        return Int(Double(text[range.upperBound...].prefix { $0 != "\n" }) ?? 0)
    }
}
