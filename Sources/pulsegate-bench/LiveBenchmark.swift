import ArgumentParser
import Foundation

/// The live stream against a minimal C epoll broadcaster, on the same machine in
/// the same run: N clients of the repo's C load client (`pulsegate-wsload`, so that
/// the client costs little beside the server) against the reference
/// (`pulsegate-wsref`), against the same reference on SwiftNIO channels
/// (`pulsegate-wsref-nio`: NIO's own cost, without Pulsegate), against `pulsegate`
/// with plain frames, and against it with every client negotiating permessage-deflate. Reports, per run and as medians,
/// server CPU per delivered message, delivery, latency and bytes on the wire per
/// frame; with `--idle`, the server's RSS per idle connection instead.
struct LiveBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "live",
        abstract: "Live stream: server CPU per delivered message against a C epoll reference, plain and compressed; or RSS per idle connection."
    )

    @Option(help: "The pulsegate binary to start (a release build).") var server = ".build/release/pulsegate"
    @Option(help: "WebSocket connections.") var clients = 1_000
    @Option(help: "Frames published per second.") var rate = 10.0
    @Option(help: "Series per frame.") var series = 10
    @Option(help: "Seconds measured, after every client has connected and a warm-up second.") var duration = 10.0
    @Option(help: "Runs; medians are reported.") var runs = 3
    @Flag(help: "Measure server RSS per idle connection instead.") var idle = false

    struct Figures {
        var cpuPerMessage: Double
        var deliveredPercent: Double
        var p50: Double
        var p99: Double
        var wireBytesPerFrame: Double
    }

    func run() async throws {
        LiveLoadGroup.raiseFileLimit()
        if idle { return try await runIdle() }
        print("live: \(clients) clients, \(rate) frames/s of \(series) series, \(duration) s measured, \(runs) runs")
        var results: [String: [Figures]] = [:]
        for run in 1...runs {
            for (name, nio) in [("reference", false), ("nio-reference", true)] {
                let reference = try ReferenceBroadcaster(rate: rate, series: series, nio: nio)
                let figures: Figures
                do {
                    defer { reference.stop() }
                    figures = try await measure(port: reference.port, pid: reference.process.processIdentifier, deflate: false)
                }
                report("run \(run) \(name)", figures)
                results[name, default: []].append(figures)
            }
            for deflate in [false, true] {
                let process = try ServerProcess(binary: server, arguments: [
                    "--collect-interval", "0", "--max-connections", "\(clients + 100)", "--batch-age", "1s",
                    "--synthetic-series", "\(series)", "--synthetic-rate", "\(rate)",
                ])
                defer { process.stop() }
                try await process.start()
                let name = deflate ? "pulsegate+deflate" : "pulsegate"
                let figures = try await measure(port: process.port, pid: process.process.processIdentifier, deflate: deflate)
                report("run \(run) \(name)", figures)
                results[name, default: []].append(figures)
            }
        }
        print("medians of \(runs) runs:")
        func median(_ name: String, _ value: (Figures) -> Double) -> Double { Measure.median(results[name, default: []].map(value)) }
        for name in ["reference", "nio-reference", "pulsegate", "pulsegate+deflate"] {
            let figures = Figures(
                cpuPerMessage: median(name) { $0.cpuPerMessage }, deliveredPercent: median(name) { $0.deliveredPercent },
                p50: median(name) { $0.p50 }, p99: median(name) { $0.p99 }, wireBytesPerFrame: median(name) { $0.wireBytesPerFrame }
            )
            report("result: \(name)", figures)
        }
        for (numerator, denominator) in [
            ("pulsegate", "reference"), ("pulsegate", "nio-reference"), ("nio-reference", "reference"), ("pulsegate+deflate", "pulsegate"),
        ] {
            let perRun = (0..<runs).map { results[numerator]![$0].cpuPerMessage / results[denominator]![$0].cpuPerMessage }
            print("result: CPU per delivered message, \(numerator) / \(denominator): \(Measure.format(Measure.median(perRun), 2)) (runs: \(perRun.map { Measure.format($0, 2) }.joined(separator: ", ")))")
        }
    }

    private func measure(port: Int, pid: Int32, deflate: Bool) async throws -> Figures {
        let figures = try await WSLoad.run(port: port, connections: clients, serverPID: pid, duration: duration, deflate: deflate)
        let delivered = figures["delivered", default: 0]
        let published = figures["published", default: 0]
        return Figures(
            cpuPerMessage: figures["server_cpu_s", default: .nan] / max(delivered, 1) * 1e6,
            deliveredPercent: delivered / max(figures["expected", default: 0], 1) * 100,
            p50: figures["latency_p50_ms", default: .nan], p99: figures["latency_p99_ms", default: .nan],
            wireBytesPerFrame: figures["wire_bytes", default: .nan] / max(published * Double(clients), 1)
        )
    }

    private func report(_ label: String, _ figures: Figures) {
        print("\(label): \(Measure.format(figures.cpuPerMessage, 2)) µs server CPU per delivered message; delivered \(Measure.format(figures.deliveredPercent, 3)) %; latency p50 \(Measure.format(figures.p50, 2)) ms, p99 \(Measure.format(figures.p99, 2)) ms; \(Measure.format(figures.wireBytesPerFrame)) bytes per frame on the wire")
    }

    /// Server RSS per idle connection: the RSS with `clients` open connections, less
    /// the RSS before the first, over `clients`; for pulsegate and the reference.
    /// A process may hold only as many connections as its file limit allows: the
    /// clients are spread over load clients of 10,000, and a server that could not
    /// hold them all (its own limit, less what it keeps open besides) is measured
    /// with as many as it can, and says so.
    private func runIdle() async throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let connections = min(clients, Int(limit.rlim_cur) - 100)
        if connections < clients {
            print("live --idle: a process may open \(limit.rlim_cur) files here (and may not raise it): measuring \(connections) connections, not \(clients)")
        }
        print("live --idle: \(connections) idle connections, \(runs) runs")
        let processes = (connections + 9_999) / 10_000
        var perConnection: [String: [Double]] = [:]
        for run in 1...runs {
            let reference = try ReferenceBroadcaster(rate: 0.1, series: 1)
            let referencePer: Double
            do {
                defer { reference.stop() }
                let before = residentKB(reference.process.processIdentifier)
                let held = try await WSLoad.hold(port: reference.port, connections: connections, processes: processes)
                try await Task.sleep(for: .seconds(2))
                referencePer = (residentKB(reference.process.processIdentifier) - before) / Double(connections)
                held.release()
            }
            let process = try ServerProcess(binary: server, arguments: ["--collect-interval", "0", "--max-connections", "\(connections + 100)"])
            defer { process.stop() }
            try await process.start()
            try await Task.sleep(for: .seconds(1))
            let before = process.residentBytes / 1024
            let held = try await WSLoad.hold(port: process.port, connections: connections, processes: processes)
            try await Task.sleep(for: .seconds(3))
            let after = process.residentBytes / 1024
            held.release()
            let pulsegate = (after - before) / Double(connections)
            print("run \(run): pulsegate RSS \(Measure.format(before / 1024, 1)) MiB before, \(Measure.format(after / 1024, 1)) MiB with \(connections): \(Measure.format(pulsegate, 2)) KB per connection; reference \(Measure.format(referencePer, 2)) KB")
            perConnection["pulsegate", default: []].append(pulsegate)
            perConnection["reference", default: []].append(referencePer)
        }
        print("result: server RSS per idle connection at \(connections): pulsegate \(Measure.format(Measure.median(perConnection["pulsegate"]!), 2)) KB, reference \(Measure.format(Measure.median(perConnection["reference"]!), 2)) KB (medians of \(runs))")
    }

    private func residentKB(_ pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8), let pages = Double(text.split(separator: " ")[1]) else { return .nan }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1024
    }
}
