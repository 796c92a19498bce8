import ArgumentParser
import Foundation
import PulseCore
import Synchronization

/// `POST /ingest` through HTTP against a release `pulsegate`: concurrent
/// clients over keep-alive, each request answered after its commit.
struct IngestBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Acknowledged (committed) samples/s through POST /ingest, JSON batches from concurrent keep-alive clients."
    )

    @Option(help: "The pulsegate binary to start (a release build).") var server = ".build/release/pulsegate"
    @Option(help: "Concurrent clients.") var clients = 4
    @Option(help: "Samples per request.") var batch = 1_000
    @Option(help: "Series the samples spread over.") var series = 100
    @Option(help: """
        How the clients' samples lie: per-client (each client pushes its own share of the series, \
        1 s apart in time order, like the store-write benchmark's data) or shared (every client \
        pushes all series, ms apart, each client in its own time region: scattered inserts).
        """) var layout: Layout = .perClient

    enum Layout: String, ExpressibleByArgument {
        case perClient = "per-client"
        case shared
    }
    @Option(help: "Seconds measured.") var duration = 10.0
    @Flag(help: """
        Then push every acknowledged request again, twice: the same samples, then the same         series and timestamps with new values. Each rate is reported beside the first run's         (a sender's retry or an overlapping backfill; target ≥ 50 % of the new-sample rate).
        """) var again = false

    func run() async throws {
        let process = try ServerProcess(binary: server, arguments: ["--collect-interval", "0"])
        defer { process.stop() }
        try await process.start()
        print("ingest: \(clients) clients × \(batch)-sample JSON requests over \(series) series (\(layout.rawValue)), \(duration) s")

        // Requests are built before the clock starts, and sent by plain blocking
        // sockets, one thread per client (`PlainHTTPConnection`): the load generator
        // shares the machine's two cores with the server, and what it spends is not Pulsegate's.
        let requestsPerClient = Int(duration * 400_000) / (clients * batch) + 1
        // A day ago, on a minute: inside the default retention for every tick written.
        let start = (Int64(Date().timeIntervalSince1970) / 60 - 24 * 60) * 60_000
        let requests = requests(perClient: requestsPerClient, start: start, valueOffset: 0)
        let outcome = try await PushLoad(pushers: requests.map { (process.port, $0) }, batch: batch).run(for: duration)
        if outcome.ranOut { print("(the prepared requests ran out before the deadline: raise the factor in requestsPerClient)") }
        print("result: \(Measure.format(outcome.samplesPerSecond)) acknowledged samples/s (\(outcome.accepted) in \(Measure.format(outcome.elapsed, 2)) s, \(outcome.failedRequests) failed requests); target ≥ 150,000")
        guard again else { return }
        for (name, offset) in [("the same samples again", 0.0), ("the same timestamps, new values", 0.5)] {
            let repeated = offset == 0 ? requests : self.requests(perClient: requestsPerClient, start: start, valueOffset: offset)
            let pushers = zip(repeated, outcome.sent).map { (process.port, Array($0.prefix($1))) }
            // Every request the first run sent, again, however long that takes.
            let again = try await PushLoad(pushers: pushers, batch: batch).run(for: 3_600)
            print("""
                \(name): \(Measure.format(again.samplesPerSecond)) acknowledged samples/s (\(again.accepted) in \(Measure.format(again.elapsed, 2)) s, \
                \(again.failedRequests) failed requests), \(Measure.format(100 * again.samplesPerSecond / outcome.samplesPerSecond, 1)) % of new samples' rate (target ≥ 50 %)
                """)
        }
    }

    /// Each client's requests, built ahead; `valueOffset` is added to every value.
    private func requests(perClient: Int, start: Int64, valueOffset: Double) -> [[[UInt8]]] {
        (0..<clients).map { client in
            (0..<perClient).map { request in
                PlainHTTPConnection.post(path: "/ingest", contentType: "application/json", body: IngestBenchmark.body(
                    batch: batch, metric: "bench_ingest", valueOffset: valueOffset,
                    place: { place(client: client, request: request, index: $0, start: start) }
                ))
            }
        }
    }

    /// One request's JSON: `batch` samples of `metric`, each placed (series, ts) by `place`.
    static func body(batch: Int, metric: String, valueOffset: Double = 0, place: (Int) -> (series: Int, ts: Int64)) -> [UInt8] {
        var body = #"{"samples":["#
        body.reserveCapacity(batch * 100)
        for index in 0..<batch {
            if index > 0 { body += "," }
            let (series, ts) = place(index)
            let value = valueOffset == 0 ? "\(index)" : "\(Double(index) + valueOffset)"
            body += #"{"metric":"\#(metric)","labels":{"series":"s\#(series)"},"ts":\#(ts),"value":\#(value)}"#
        }
        body += "]}"
        return Array(body.utf8)
    }

    /// The series and ts of a request's `index`th sample.
    private func place(client: Int, request: Int, index: Int, start: Int64) -> (series: Int, ts: Int64) {
        switch layout {
        case .perClient:
            // Client c owns series c, c + clients, …; each request is whole ticks of
            // them, 1 s apart, continuing the previous request.
            let owned = max(1, series / clients)
            let ticksPerRequest = (batch + owned - 1) / owned
            let tick = Int64(request * ticksPerRequest + index / owned)
            return (client + (index % owned) * clients, start + tick * 1000)
        case .shared:
            let base = 1_700_000_000_000 + Int64(client) * 1_000_000_000 + Int64(request) * Int64(batch / series + 1)
            return (index % series, base + Int64(index / series))
        }
    }
}
