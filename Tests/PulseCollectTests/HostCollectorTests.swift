import Foundation
import PulseCollect
import PulseCore
import Testing

@Suite struct HostCollectorTests {
    /// A copy of the fixture `/proc` that a test may change.
    final class FakeProc {
        let root = NSTemporaryDirectory() + "pulsegate-proc-\(UUID().uuidString)"

        init() throws {
            let fixtures = try #require(Bundle.module.url(forResource: "Fixtures/proc", withExtension: nil))
            try FileManager.default.copyItem(atPath: fixtures.path, toPath: root)
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }

        func write(_ file: String, _ text: String) throws {
            try text.write(toFile: root + "/" + file, atomically: true, encoding: .utf8)
        }

        func remove(_ file: String) throws {
            try FileManager.default.removeItem(atPath: root + "/" + file)
        }
    }

    func value(_ samples: [Sample], _ metric: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.key == SeriesKey(metric: metric, labels: labels) }?.value
    }

    @Test func computesRatesFromTwoReadings() throws {
        let proc = try FakeProc()
        var collector = HostCollector(procRoot: proc.root)
        let start = ContinuousClock.now
        let first = collector.collect(at: 1_000, now: start)
        // Gauges at once; rates only from the second reading.
        #expect(value(first, HostMetricNames.memoryTotal) == Double(16318048 * 1024))
        #expect(value(first, HostMetricNames.load15) == 0.59)
        #expect(value(first, HostMetricNames.processResidentMemory) == Double(9216 * sysconf(Int32(_SC_PAGESIZE))))
        #expect(value(first, HostMetricNames.cpuUsage, ["cpu": "all"]) == nil)
        #expect(first.allSatisfy { $0.timestamp == 1_000 })

        try proc.write("stat", """
            cpu  10132253 290696 3084719 46828783 16683 0 25195 0 175628 0
            cpu0 1393380 32966 572056 13343292 6130 0 17875 0 23933 0
            cpu1 1335366 29890 507745 13456114 2470 0 3985 0 21452 0
            """)
        try proc.write("net/dev", """
            Inter-|   Receive
             face |bytes    packets errs drop fifo frame compressed multicast|bytes
                lo: 2776770   11307    0    0    0     0          0         0  2776770   11307    0    0    0     0       0          0
              eth0: 1217645   10142    0    0    0     0          0         0  1038250    8951    0    0    0     0       0          0
            """)
        try proc.write("self/stat", "412356 (pulse gate (x)) S 1 412356 412356 0 -1 4194560 2812 0 0 0 250 100 0 0 20 0 9 0 123456 1102848000 9216")
        let second = collector.collect(at: 3_000, now: start + .seconds(2))
        #expect(value(second, HostMetricNames.cpuUsage, ["cpu": "all"]) == 0.25)   // 100 busy of 400 ticks
        #expect(value(second, HostMetricNames.cpuUsage, ["cpu": "0"]) == 1.0)
        #expect(value(second, HostMetricNames.cpuUsage, ["cpu": "1"]) == 0.0)
        #expect(value(second, HostMetricNames.networkReceive, ["device": "eth0"]) == 1000)   // 2000 bytes in 2 s
        #expect(value(second, HostMetricNames.networkTransmit, ["device": "eth0"]) == 500)
        #expect(value(second, HostMetricNames.networkReceive, ["device": "lo"]) == 0)
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        #expect(value(second, HostMetricNames.processCPUUsage) == min(1, 150 / ticks / 2 / 2))   // 150 ticks in 2 s over 2 cores
        #expect(collector.readErrors.isEmpty)
        #expect(second.allSatisfy { SampleValidator().problems(in: $0).isEmpty }, "every sample is valid")
    }

    @Test func aMissingOrOddFileCostsOnlyItsReadings() throws {
        let proc = try FakeProc()
        try proc.remove("meminfo")
        try proc.write("loadavg", "garbage\n")
        var collector = HostCollector(procRoot: proc.root)
        for second in 0..<3 {
            let samples = collector.collect(at: Int64(second) * 1000, now: .now + .seconds(second))
            let metrics = Set(samples.map(\.key.metric))
            #expect(!metrics.contains(HostMetricNames.memoryTotal))
            #expect(!metrics.contains(HostMetricNames.load1))
            #expect(metrics.contains(HostMetricNames.processResidentMemory))
        }
        #expect(collector.readErrors == ["meminfo": 3, "loadavg": 3])

        // The file comes back: so do its readings.
        try proc.write("loadavg", "1.5 1.0 0.5 1/100 42\n")
        #expect(value(collector.collect(at: 4000), HostMetricNames.load1) == 1.5)
    }

    @Test func anEmptyProcRootStopsNothing() {
        var collector = HostCollector(procRoot: "/nonexistent-\(UUID().uuidString)")
        #expect(collector.collect(at: 0).isEmpty)
        #expect(collector.readErrors.count == 6)
    }

    @Test func readsTheRealProc() async throws {
        var collector = HostCollector()
        _ = collector.collect(at: Timestamp.now())
        try await Task.sleep(for: .milliseconds(300))
        let samples = collector.collect(at: Timestamp.now())
        let metrics = Set(samples.map(\.key.metric))
        let expected: Set<String> = [
            HostMetricNames.cpuUsage, HostMetricNames.memoryTotal, HostMetricNames.memoryAvailable, HostMetricNames.memoryUsed,
            HostMetricNames.load1, HostMetricNames.load5, HostMetricNames.load15, HostMetricNames.networkReceive,
            HostMetricNames.networkTransmit, HostMetricNames.processCPUUsage, HostMetricNames.processResidentMemory,
        ]
        #expect(expected.isSubset(of: metrics), "missing: \(expected.subtracting(metrics))")
        #expect(collector.readErrors.isEmpty)
        let cores = samples.filter { $0.key.metric == HostMetricNames.cpuUsage && $0.key[label: "cpu"] != "all" }
        #expect(!cores.isEmpty)
        #expect(cores.allSatisfy { Int($0.key[label: "cpu"] ?? "") != nil }, "per-core series are labelled by core number")
        #expect(samples.allSatisfy { SampleValidator().problems(in: $0).isEmpty })
        #expect(samples.filter { $0.key.metric.hasSuffix("_ratio") }.allSatisfy { (0...1).contains($0.value) })
    }
}
