import Foundation
import PulseCore
import PulseTestSupport

/// The series the storage benchmarks encode and store: samples recorded from
/// the host collector, and three synthetic kinds of 1 s data whose costs bound
/// what real series cost (whole-number gauges, counters, full-precision noise).
enum BenchDatasets {
    typealias Samples = [(timestamp: Int64, value: Double)]

    struct Dataset {
        let name: String
        let series: [(key: SeriesKey, samples: Samples)]

        var sampleCount: Int { series.reduce(0) { $0 + $1.samples.count } }
    }

    /// Integer gauges, counters and noisy floats, `series` of each, `samples` each, 1 s apart with a few ms of jitter.
    static func synthetic(series: Int, samples: Int) -> [Dataset] {
        var random = SplitMix64(seed: 1_764_470)
        let start: Int64 = 1_764_470_000_000
        // A scrape or collector tick lands within a few ms of its second.
        let times = { (random: inout SplitMix64) in (0..<samples).map { start + Int64($0) * 1_000 + Int64(random.next() % 5) } }
        func keys(_ metric: String) -> [SeriesKey] {
            (0..<series).map { SeriesKey(metric: metric, labels: ["series": "s\($0)"]) }
        }
        let gauges = keys("bench_integer_gauge").map { key in
            var level = Double(random.next() % 500)
            return (key, times(&random).map { ($0, { level = max(0, level + Double(Int(random.next() % 7) - 3)); return level }()) })
        }
        let counters = keys("bench_counter_total").map { key in
            var total = Double(random.next() % 100_000)
            return (key, times(&random).map { ($0, { total += Double(random.next() % 40); return total }()) })
        }
        let noisy = keys("bench_noisy_ratio").map { key in
            (key, times(&random).map { ($0, Double(random.next() >> 11) / Double(1 << 53)) })
        }
        return [
            Dataset(name: "integer gauges", series: gauges),
            Dataset(name: "counters", series: counters),
            Dataset(name: "noisy floats", series: noisy),
        ]
    }

    /// The host collector recorded at 1 s (`scripts/record_host_fixture.py`), relative to the checkout.
    static let recordedFixture = "Sources/pulsegate-bench/Fixtures/host-collector-1s.om.gz"

    static func recordedName(_ path: String) -> String {
        "recorded (\((path as NSString).lastPathComponent))"
    }

    /// Each series of an OpenMetrics file (`name{labels} value seconds.millis`
    /// lines, gzipped), in file order.
    static func recorded(_ path: String) throws -> [(key: SeriesKey, samples: Samples)] {
        let gunzip = Process()
        gunzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
        gunzip.arguments = ["-dc", path]
        let pipe = Pipe()
        gunzip.standardOutput = pipe
        try gunzip.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        gunzip.waitUntilExit()
        var bySeries: [Substring: Samples] = [:]
        var order: [Substring] = []
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: " ")
            guard fields.count >= 3, let value = Double(fields[fields.count - 2]) else { throw BenchError("not an OpenMetrics sample: \(line.prefix(80))") }
            let time = fields[fields.count - 1].split(separator: ".")
            guard let seconds = Int64(time[0]), let millis = Int64(time.count > 1 ? time[1] : "0") else { throw BenchError("no timestamp: \(line.prefix(80))") }
            let key = fields.dropLast(2).joined(separator: " ")[...]
            if bySeries[key] == nil { order.append(key) }
            bySeries[key, default: []].append((seconds * 1_000 + millis, value))
        }
        return try order.map { (try seriesKey($0), bySeries[$0]!) }
    }

    /// `name{a="x",b="y"}` as a key (the fixture's label values hold no quotes or commas).
    static func seriesKey(_ text: Substring) throws -> SeriesKey {
        guard let brace = text.firstIndex(of: "{") else { return SeriesKey(metric: String(text)) }
        let body = text[text.index(after: brace)..<(text.lastIndex(of: "}") ?? text.endIndex)]
        var labels: [String: String] = [:]
        for pair in body.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { throw BenchError("not a label: \(pair)") }
            labels[String(parts[0])] = String(parts[1].dropFirst().dropLast())
        }
        return SeriesKey(metric: String(text[..<brace]), labels: labels)
    }
}
