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
    @Option(help: "Seconds measured.") var duration = 10.0

    func run() async throws {
        let process = try ServerProcess(binary: server, arguments: ["--collect-interval", "0"])
        defer { process.stop() }
        try await process.start()
        let url = "http://127.0.0.1:\(process.port)/ingest"
        print("ingest: \(clients) clients × \(batch)-sample JSON requests over \(series) series, \(duration) s")

        // Bodies are built before the clock starts: the load generator shares the
        // machine's two cores with the server, and building JSON is its work, not Pulsegate's.
        let requestsPerClient = Int(duration * 400_000) / (clients * batch) + 1
        let bodies = (0..<clients).map { client in
            (0..<requestsPerClient).map { request in makeBody(client: client, request: request) }
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

    /// One request's JSON: `batch` samples over `series` series, timestamps unique per client and request.
    private func makeBody(client: Int, request: Int) -> ByteBuffer {
        let base = 1_700_000_000_000 + Int64(client) * 1_000_000_000 + Int64(request) * Int64(batch / series + 1)
        var body = #"{"samples":["#
        body.reserveCapacity(batch * 100)
        for index in 0..<batch {
            if index > 0 { body += "," }
            body += #"{"metric":"bench_ingest","labels":{"series":"s\#(index % series)"},"ts":\#(base + Int64(index / series)),"value":\#(index)}"#
        }
        body += "]}"
        return ByteBuffer(string: body)
    }
}
