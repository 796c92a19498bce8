import ArgumentParser
import Foundation
import PulseCore
import PulseTestSupport

/// `POST /api/v1/write` against `POST /ingest` JSON with the same samples, and
/// against the store's own write rate, in the same run: a release `pulsegate`
/// started afresh for each, concurrent keep-alive senders, each request
/// answered after its commit.
struct RemoteWriteBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remote-write",
        abstract: "Acknowledged samples/s through POST /api/v1/write (Prometheus-shaped, snappy), beside /ingest JSON of the same samples and the store's own rate."
    )

    @Option(help: "The pulsegate binary to start (a release build).") var server = ".build/release/pulsegate"
    @Option(help: "Concurrent senders.") var clients = 4
    @Option(help: "Samples per request (Prometheus's max_samples_per_send).") var batch = 2_000
    @Option(parsing: .upToNextOption, help: "Series counts, each measured on its own.") var series: [Int] = [100, 1_000, 10_000]
    @Option(help: "Seconds measured for each.") var duration = 10.0
    @Option(help: "Runs; medians are reported.") var runs = 3

    func run() async throws {
        print("remote-write: \(clients) senders × \(batch)-sample requests, \(duration) s each, \(runs) runs, series \(series)")
        for count in series {
            var rates: [String: [Double]] = [:]
            for run in 1...runs {
                let remoteWrite = try await measure(count, format: .remoteWrite)
                let json = try await measure(count, format: .json)
                // The store alone, on as many rows as the remote_write run acknowledged, at least a tick of every series.
                let timestamps = max(2, Int(remoteWrite * duration) / count)
                let store = try await StoreWriteBenchmark.storeRate(keys: Self.keys(count), timestamps: timestamps, batchSize: 10_000)
                print("  \(count) series, run \(run): remote_write \(Measure.format(remoteWrite)) samples/s, JSON \(Measure.format(json)), store \(Measure.format(store)) rows/s; remote_write/JSON \(Measure.format(remoteWrite / json, 2)), remote_write/store \(Measure.format(remoteWrite / store, 2))")
                rates["remote_write", default: []].append(remoteWrite)
                rates["json", default: []].append(json)
                rates["store", default: []].append(store)
                rates["rw/json", default: []].append(remoteWrite / json)
                rates["rw/store", default: []].append(remoteWrite / store)
            }
            let median = { (name: String) in Measure.median(rates[name]!) }
            print("result: \(count) series: remote_write \(Measure.format(median("remote_write"))) samples/s, /ingest JSON \(Measure.format(median("json"))), store \(Measure.format(median("store"))) rows/s; remote_write/JSON \(Measure.format(median("rw/json"), 2)) (target ≥ 1.2), remote_write/store \(Measure.format(median("rw/store"), 2)) (target ≥ 0.60); medians of \(runs)")
        }
    }

    enum Format {
        case remoteWrite
        case json
    }

    /// The series, labelled as a Prometheus scrape labels them.
    static func keys(_ count: Int) -> [SeriesKey] {
        (0..<count).map { SeriesKey(metric: "bench_rw", labels: ["job": "node", "instance": "host-\($0 % 50):9100", "series": "s\($0)"]) }
    }

    /// Acknowledged samples/s of one format against a fresh server.
    private func measure(_ count: Int, format: Format) async throws -> Double {
        let process = try ServerProcess(binary: server, arguments: ["--collect-interval", "0", "--max-new-series-per-request", "\(max(count, batch))"])
        defer { process.stop() }
        try await process.start()
        let keys = Self.keys(count)
        // Built before the clock starts, sent by plain blocking sockets (`PushLoad`): the
        // senders share the two cores with the server. Client c writes ticks c, c + clients, …
        // of every series, 1 s apart, in time order, as a Prometheus's shards would.
        // Enough for 800k samples/s: a run that sends them all in time under-reports its rate.
        let requestsPerClient = Int(duration * 800_000) / (clients * batch) + 1
        let start = (Int64(Date().timeIntervalSince1970) / 60 - 24 * 60) * 60_000
        let requests = (0..<clients).map { client in
            (0..<requestsPerClient).map { request in
                let samples = (0..<batch).map { index in
                    let sequence = (request * batch + index) * clients + client
                    return Sample(key: keys[sequence % count], timestamp: start + Int64(sequence / count) * 1000, value: Double(sequence % 1000) / 8)
                }
                return Self.request(samples, format: format)
            }
        }
        let outcome = try await PushLoad(pushers: requests.map { (process.port, $0) }, batch: batch).run(for: duration)
        if outcome.ranOut { print("(the prepared requests ran out before the deadline: raise the factor in requestsPerClient)") }
        if outcome.failedRequests > 0 { throw BenchError("\(outcome.failedRequests) requests were refused") }
        return outcome.samplesPerSecond
    }

    /// A remote_write request as Prometheus builds one (one time series per sample, its
    /// labels repeated), snappy-compressed; or the same samples as /ingest JSON.
    static func request(_ samples: [Sample], format: Format) -> [UInt8] {
        switch format {
        case .remoteWrite:
            let series = samples.map { sample in
                RemoteWriteEncoder.Series([("__name__", sample.key.metric)] + sample.key.labels.map { ($0.name, $0.value) }, samples: [(sample.timestamp, sample.value)])
            }
            return PlainHTTPConnection.post(
                path: "/api/v1/write", contentType: "application/x-protobuf", contentEncoding: "snappy",
                body: SnappyBlock.compress(RemoteWriteEncoder.writeRequest(series))
            )
        case .json:
            var body = #"{"samples":["#
            for (index, sample) in samples.enumerated() {
                if index > 0 { body += "," }
                let labels = sample.key.labels.map { #""\#($0.name)":"\#($0.value)""# }.joined(separator: ",")
                body += #"{"metric":"\#(sample.key.metric)","labels":{\#(labels)},"ts":\#(sample.timestamp),"value":\#(sample.value)}"#
            }
            body += "]}"
            return PlainHTTPConnection.post(path: "/ingest", contentType: "application/json", body: Array(body.utf8))
        }
    }
}
