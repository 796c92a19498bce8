import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

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

    func run() async throws {
        let process = try ServerProcess(binary: server, arguments: ["--collect-interval", "0"])
        defer { process.stop() }
        try await process.start()
        let url = "http://127.0.0.1:\(process.port)/ingest"
        print("ingest: \(clients) clients × \(batch)-sample JSON requests over \(series) series (\(layout.rawValue)), \(duration) s")

        // Bodies are built before the clock starts: the load generator shares the
        // machine's two cores with the server, and building JSON is its work, not Pulsegate's.
        let requestsPerClient = Int(duration * 400_000) / (clients * batch) + 1
        // A day ago, on a minute: inside the default retention for every tick written.
        let start = (Int64(Date().timeIntervalSince1970) / 60 - 24 * 60) * 60_000
        let bodies = (0..<clients).map { client in
            (0..<requestsPerClient).map { request in makeBody(client: client, request: request, start: start) }
        }
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: clients)))
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(duration)
        let started = clock.now
        let counts = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for client in 0..<clients {
                group.addTask { [bodies] in
                    var accepted = 0
                    var failures = 0
                    for body in bodies[client] where clock.now < deadline {
                        var request = HTTPClientRequest(url: url)
                        request.method = .POST
                        request.headers.add(name: "Content-Type", value: "application/json")
                        request.body = .bytes(body)
                        let response = try await http.execute(request, timeout: .seconds(30))
                        _ = try await response.body.collect(upTo: 1 << 16)
                        if response.status == .ok { accepted += batch } else { failures += 1 }
                    }
                    return (accepted, failures)
                }
            }
            var total = (0, 0)
            for try await (accepted, failures) in group { total = (total.0 + accepted, total.1 + failures) }
            return total
        }
        let elapsed = Measure.seconds(clock.now - started)
        try await http.shutdown()
        if clock.now < deadline { print("(the prepared bodies ran out before the deadline: raise the factor in requestsPerClient)") }
        print("result: \(Measure.format(Double(counts.0) / elapsed)) acknowledged samples/s (\(counts.0) in \(Measure.format(elapsed, 2)) s, \(counts.1) failed requests); target ≥ 150,000")
    }

    /// One request's JSON: `batch` samples, laid out as `layout` says.
    private func makeBody(client: Int, request: Int, start: Int64) -> ByteBuffer {
        var body = #"{"samples":["#
        body.reserveCapacity(batch * 100)
        for index in 0..<batch {
            if index > 0 { body += "," }
            let (series, ts) = place(client: client, request: request, index: index, start: start)
            body += #"{"metric":"bench_ingest","labels":{"series":"s\#(series)"},"ts":\#(ts),"value":\#(index)}"#
        }
        body += "]}"
        return ByteBuffer(string: body)
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
