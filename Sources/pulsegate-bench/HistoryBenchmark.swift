import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import PulseCore
import PulseStore

/// `GET /history` through HTTP against a release `pulsegate` whose database
/// holds one series of 24 h at 1 s: latency of a raw hour and of the whole day
/// downsampled, one keep-alive client, request by request.
struct HistoryBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Median latency of GET /history: 1 h raw, and 24 h downsampled (from rollups and from raw rows)."
    )

    @Option(help: "The pulsegate binary to start (a release build).") var server = ".build/release/pulsegate"
    @Option(help: "Hours of 1 s samples stored before the server starts.") var hours = 24
    @Option(help: "Requests per query; the median is reported.") var runs = 200
    @Option(help: "The newest minutes left in the head, not compacted, as a live server holds them (under 68: it compacts 4,096 rows at a time).")
    var headMinutes = 0

    struct Query {
        let name: String
        let parameters: String
        let points: ClosedRange<Int>
        let target: String
    }

    func run() async throws {
        let process = try ServerProcess(binary: server, arguments: ["--collect-interval", "0"])
        defer { process.stop() }
        let seconds = hours * 3600
        // End in the recent past, so that retention keeps everything, on a multiple of
        // 2 minutes, so that the day splits into whole minutes and into 720 buckets of 2m.
        let end = Timestamp.now() / 120_000 * 120_000
        let start = end - Int64(seconds) * 1000
        try await fill(path: process.directory + "/bench.sqlite", from: start, count: seconds, held: min(seconds, headMinutes * 60))
        try await process.start()

        let base = "http://127.0.0.1:\(process.port)/history?metric=bench_history&host=bench"
        let day = "&from=\(start)&to=\(end - 1)"
        let queries = [
            Query(name: "1 h raw", parameters: "&from=\(end - 3_600_000)&to=\(end - 1)", points: 3_600...3_600, target: "≤ 5 ms"),
            Query(name: "\(hours) h, points=1000 (step 2m, rollups)", parameters: day + "&points=1000&agg=avg", points: seconds / 120...seconds / 120, target: "≤ 5 ms"),
            Query(name: "\(hours) h, step 1m (rollups)", parameters: day + "&step=1m&agg=max", points: seconds / 60...seconds / 60, target: ""),
            Query(
                name: "\(hours) h, step \(seconds)ms/1000 (raw samples)", parameters: day + "&step=\(seconds)&agg=avg",
                points: 1_000...1_001, target: ""  // 1,001 when the day does not start on a bucket
            ),
        ]
        print("history: \(seconds) rows of one series (the newest \(headMinutes) min in the head), \(runs) requests per query, one keep-alive client")
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await measure(queries, base: base, http)
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    private func measure(_ queries: [Query], base: String, _ http: HTTPClient) async throws {
        let clock = ContinuousClock()
        for query in queries {
            let url = base + query.parameters
            let points = try pointCount(try await http.getOK(url))
            guard query.points.contains(points) else {
                throw BenchError("\(query.name): expected \(query.points) points, got \(points)")
            }
            for _ in 0..<20 { _ = try await http.getOK(url) }  // warm up
            var times: [Double] = []
            var bytes = 0
            for _ in 0..<runs {
                let started = clock.now
                bytes = try await http.getOK(url).readableBytes
                times.append((clock.now - started).seconds * 1000)
            }
            let sorted = times.sorted()
            print("""
                \(query.name): \(points) points, \(bytes) bytes: median \(Measure.format(Measure.median(times), 2)) ms, \
                p90 \(Measure.format(sorted[sorted.count * 9 / 10], 2)) ms\(query.target.isEmpty ? "" : " (target \(query.target))")
                """)
        }
    }

    /// Stores the series with the store itself, before the server opens the file:
    /// compacted, but for the newest `held` samples.
    private func fill(path: String, from start: Int64, count: Int, held: Int) async throws {
        var logger = Logger(label: "pulsegate-bench")
        logger.logLevel = .warning
        let store = try SampleStore.open(StoreConfiguration(path: path, maxPendingSamples: count), logger: logger)
        let key = SeriesKey(metric: "bench_history", labels: ["host": "bench"])
        let samples = (0..<count).map { Sample(key: key, timestamp: start + Int64($0) * 1000, value: sin(Double($0) / 600)) }
        try await store.write(Array(samples.dropLast(held)), durability: .committed)
        // As the file settles: every sample in compressed chunks…
        await store.compactAll()
        // …and then the newest ones, which a live server holds in its head.
        try await store.write(Array(samples.suffix(held)), durability: .committed)
        await store.close()
    }

    private func pointCount(_ body: ByteBuffer) throws -> Int {
        let json = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
        let series = json?["series"] as? [[String: Any]] ?? []
        return series.reduce(0) { $0 + (($1["points"] as? [Any])?.count ?? 0) }
    }
}
