#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import Metrics
import PulseCore

/// Reads the host's state from `/proc` and turns it into samples.
///
/// Rates (CPU usage, network throughput, process CPU) need two readings, so
/// they appear from the second call on. Each file is read on its own: a
/// missing or odd file drops only its readings, is logged once, and is counted
/// in `readErrors` and `pulsegate_collector_read_errors_total{file}`.
public struct HostCollector {
    public let procRoot: String
    public private(set) var readErrors: [String: Int] = [:]

    private let logger: Logger
    private let metrics: any MetricsFactory
    private let ticksPerSecond: Double
    private let pageSize: UInt64
    private var loggedFailures: Set<String> = []
    private var previousCPU: [String: CPUTimes] = [:]
    private var previousNetwork: (at: ContinuousClock.Instant, counters: [String: NetworkCounters])?
    private var previousProcess: (at: ContinuousClock.Instant, ticks: UInt64)?
    private var cores = 1

    /// `metrics` receives `pulsegate_collector_read_errors_total{file}`.
    /// The files read, relative to `procRoot`.
    static let files = ["stat", "meminfo", "loadavg", "net/dev", "self/stat", "self/statm"]

    public init(procRoot: String = "/proc", logger: Logger = Logger(label: "pulsegate.collector"), metrics: any MetricsFactory = MetricsSystem.factory) {
        self.procRoot = procRoot
        self.logger = logger
        self.metrics = metrics
        // Every file's counter exists from the start, at 0, so that a rate over it is defined.
        for file in Self.files {
            Counter(label: "pulsegate_collector_read_errors_total", dimensions: [("file", file)], factory: metrics).increment(by: 0)
        }
        let ticks = sysconf(Int32(_SC_CLK_TCK))
        self.ticksPerSecond = ticks > 0 ? Double(ticks) : 100
        let page = sysconf(Int32(_SC_PAGESIZE))
        self.pageSize = page > 0 ? UInt64(page) : 4096
    }

    /// One reading of everything, stamped `timestamp` (ms); `now` measures the
    /// time between readings for rates.
    public mutating func collect(at timestamp: Int64, now: ContinuousClock.Instant = .now) -> [Sample] {
        var samples: [Sample] = []
        func add(_ metric: String, _ labels: [String: String], _ value: Double) {
            samples.append(Sample(metric: metric, labels: labels, timestamp: timestamp, value: value))
        }

        if let cpu = read("stat", CPUTimes.parse(procStat:)) {
            cores = max(1, cpu.count - 1)
            for (name, times) in cpu.sorted(by: { $0.key < $1.key }) {
                if let earlier = previousCPU[name], let usage = times.usage(since: earlier) {
                    add(HostMetricNames.cpuUsage, ["cpu": name], usage)
                }
            }
            previousCPU = cpu
        }

        if let memory = read("meminfo", MemoryInfo.parse) {
            add(HostMetricNames.memoryTotal, [:], Double(memory.total))
            add(HostMetricNames.memoryAvailable, [:], Double(memory.available))
            add(HostMetricNames.memoryUsed, [:], Double(memory.used))
        }

        if let load = read("loadavg", LoadAverage.parse) {
            add(HostMetricNames.load1, [:], load.one)
            add(HostMetricNames.load5, [:], load.five)
            add(HostMetricNames.load15, [:], load.fifteen)
        }

        if let network = read("net/dev", NetworkCounters.parse) {
            if let previous = previousNetwork {
                let seconds = (now - previous.at).seconds
                for (device, counters) in network.sorted(by: { $0.key < $1.key }) {
                    guard seconds > 0, let earlier = previous.counters[device],
                          counters.receivedBytes >= earlier.receivedBytes,
                          counters.transmittedBytes >= earlier.transmittedBytes
                    else { continue }  // new device, or counters reset: wait for the next reading
                    add(HostMetricNames.networkReceive, ["device": device], Double(counters.receivedBytes - earlier.receivedBytes) / seconds)
                    add(HostMetricNames.networkTransmit, ["device": device], Double(counters.transmittedBytes - earlier.transmittedBytes) / seconds)
                }
            }
            previousNetwork = (now, network)
        }

        if let process = read("self/stat", ProcessUsage.parseStat) {
            if let previous = previousProcess, process.cpuTicks >= previous.ticks {
                let seconds = (now - previous.at).seconds
                if seconds > 0 {
                    let cpuSeconds = Double(process.cpuTicks - previous.ticks) / ticksPerSecond
                    add(HostMetricNames.processCPUUsage, [:], min(1, cpuSeconds / seconds / Double(cores)))
                }
            }
            previousProcess = (now, process.cpuTicks)
        }

        if let pages = read("self/statm", ProcessUsage.parseResidentPages) {
            add(HostMetricNames.processResidentMemory, [:], Double(pages * pageSize))
        }
        return samples
    }

    /// Reads and parses one file; on failure counts it, logs it the first time, and returns nil.
    private mutating func read<Value>(_ file: String, _ parse: (Substring) throws -> Value) -> Value? {
        do {
            return try parse(ProcFile.read(procRoot + "/" + file))
        } catch {
            readErrors[file, default: 0] += 1
            Counter(label: "pulsegate_collector_read_errors_total", dimensions: [("file", file)], factory: metrics).increment()
            if loggedFailures.insert(file).inserted {
                logger.warning("collector cannot use a /proc file; its readings are skipped", metadata: [
                    "file": "\(procRoot)/\(file)", "error": "\(error)",
                ])
            }
            return nil
        }
    }
}
