import Synchronization

/// The latest value of every live series, in Prometheus text format: what
/// `/metrics` adds to the gateway's own instrumentation, so that a Prometheus
/// scraping Pulsegate sees the collector's and the pushed series.
///
/// A publisher of the pipeline: it sees every accepted batch after it was
/// stored. Each series' exposition prefix (`name{label="value"} `) is built
/// once, when the series first appears, so a scrape of 10,000 series only
/// appends values. A series not updated for `staleness` drops out at the next
/// scrape, as a push gateway's would not but a live gauge should.
///
/// Values carry no timestamp: Prometheus stamps them at the scrape, which is
/// what its staleness handling expects of a target.
public final class LatestValues: SamplePublisher {
    private struct Entry {
        let prefix: [UInt8]
        var value: Double
        var timestamp: Int64
        /// When it was last published, on the wall clock (ms).
        var seen: Int64

        /// Keeps the newer sample by its own ts (a late one does not win), and notes that the series is alive.
        mutating func update(with sample: Sample, seen now: Int64) {
            if sample.timestamp >= timestamp {
                value = sample.value
                timestamp = sample.timestamp
            }
            seen = now
        }
    }

    /// Series by metric, so that a scrape writes each family's lines together.
    private let families = Mutex<[String: [SeriesKey: Entry]]>([:])
    public let staleness: Duration
    private let stalenessMilliseconds: Int64
    private let clock: @Sendable () -> Int64

    public init(staleness: Duration, clock: @escaping @Sendable () -> Int64 = { Timestamp.now() }) {
        self.staleness = staleness
        self.stalenessMilliseconds = staleness.milliseconds
        self.clock = clock
    }

    public func publish(_ samples: [Sample], from source: SampleSource) {
        let now = clock()
        families.withLock { families in
            for sample in samples {
                families[sample.key.metric, default: [:]][sample.key, default: Entry(prefix: Self.prefix(sample.key), value: sample.value, timestamp: sample.timestamp, seen: now)]
                    .update(with: sample, seen: now)
            }
        }
    }

    /// Appends every live series, family by family (sorted by name), and
    /// forgets the stale ones; returns how many series were written.
    @discardableResult
    public func emit(into buffer: inout [UInt8]) -> Int {
        let oldest = clock() - stalenessMilliseconds
        return families.withLock { families in
            var written = 0
            for metric in families.keys.sorted() {
                guard var series = families[metric] else { continue }
                if series.values.contains(where: { $0.seen < oldest }) {
                    series = series.filter { $0.value.seen >= oldest }
                    families[metric] = series.isEmpty ? nil : series
                }
                guard !series.isEmpty else { continue }
                buffer.append(contentsOf: "# HELP \(metric) Latest value received by Pulsegate (collector or push).\n# TYPE \(metric) untyped\n".utf8)
                for entry in series.values {
                    buffer.append(contentsOf: entry.prefix)
                    buffer.append(contentsOf: Self.format(entry.value).utf8)
                    buffer.append(10)
                }
                written += series.count
            }
            return written
        }
    }

    /// `name{a="x",b="y"} `: the key's canonical text, which escapes label values as the text format requires.
    static func prefix(_ key: SeriesKey) -> [UInt8] {
        Array((key.canonicalText + " ").utf8)
    }

    /// A value as Prometheus writes one (`+Inf`, `-Inf`, `NaN` included).
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        return value.description
    }
}
