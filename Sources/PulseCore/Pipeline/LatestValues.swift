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
    /// What senders said about families, by family name, with when it was last said (ms).
    private let metadata = Mutex<[String: (metadata: MetricMetadata, seen: Int64)]>([:])
    public let staleness: Duration
    private let stalenessMilliseconds: Int64
    private let clock: @Sendable () -> Int64

    public init(staleness: Duration, clock: @escaping @Sendable () -> Int64 = { Timestamp.now() }) {
        self.staleness = staleness
        self.stalenessMilliseconds = staleness.milliseconds
        self.clock = clock
    }

    public func publish(_ samples: [Sample], from source: SampleSource) {
        // A push group exposes its own samples, as Pushgateway does (`PushGroups`).
        guard source != .pushgateway else { return }
        let now = clock()
        families.withLock { families in
            for sample in samples {
                families[sample.key.metric, default: [:]][sample.key, default: Entry(prefix: Self.prefix(sample.key), value: sample.value, timestamp: sample.timestamp, seen: now)]
                    .update(with: sample, seen: now)
            }
        }
    }

    /// An ended series leaves at once, unless it has a sample newer than its end.
    public func end(_ series: [SeriesEnd]) {
        families.withLock { families in
            for end in series {
                guard let entry = families[end.key.metric]?[end.key], entry.timestamp <= end.timestamp else { continue }
                families[end.key.metric]?[end.key] = nil
                if families[end.key.metric]?.isEmpty == true { families[end.key.metric] = nil }
            }
        }
    }

    /// Kept until it has not been said again for `staleness` and no series of the family is live.
    public func describe(_ metadata: [MetricMetadata]) {
        let now = clock()
        self.metadata.withLock { known in
            for entry in metadata { known[entry.family] = (entry, now) }
        }
    }

    /// Appends every live series, family by family (sorted by name), and
    /// forgets the stale ones; returns how many series were written. A family
    /// a sender described is written with its type and help, its series
    /// (a histogram's `_bucket`, `_sum` and `_count`) under its name. The
    /// `pushed` families (the push groups') are written in the same order; one
    /// that has live series too is written once, with the pushed header; the
    /// series `held` by push groups are theirs, and not written here.
    @discardableResult
    public func emit(into buffer: inout [UInt8], with pushed: [ExposedFamily] = [], held: Set<SeriesKey> = []) -> Int {
        let oldest = clock() - stalenessMilliseconds
        let described = metadata.withLock { known -> [String: MetricMetadata] in
            known.reduce(into: [:]) { described, entry in described[entry.key] = entry.value.metadata }
        }
        var liveFamilies: Set<String> = []
        let written = families.withLock { families in
            var byFamily: [String: [String]] = [:]
            for metric in families.keys {
                byFamily[Self.family(of: metric, described: described), default: []].append(metric)
            }
            var pushedByName: [String: ExposedFamily] = [:]
            for family in pushed { pushedByName[family.name] = family }
            var written = 0
            for family in Set(byFamily.keys).union(pushedByName.keys).sorted() {
                var header = false
                if let pushed = pushedByName[family] {
                    buffer += pushed.header
                    header = true
                }
                for metric in byFamily[family, default: []].sorted() {
                    guard var series = families[metric] else { continue }
                    if series.values.contains(where: { $0.seen < oldest }) {
                        series = series.filter { $0.value.seen >= oldest }
                        families[metric] = series.isEmpty ? nil : series
                    }
                    if !held.isEmpty { series = series.filter { !held.contains($0.key) } }
                    guard !series.isEmpty else { continue }
                    if !header {
                        Self.appendHeader(family: family, described[family], to: &buffer)
                        header = true
                    }
                    liveFamilies.insert(family)
                    for entry in series.values {
                        buffer.append(contentsOf: entry.prefix)
                        buffer.append(contentsOf: Self.format(entry.value).utf8)
                        buffer.append(10)
                    }
                    written += series.count
                }
                if let pushed = pushedByName[family] { buffer += pushed.lines }
            }
            return written
        }
        metadata.withLock { known in
            known = known.filter { $0.value.seen >= oldest || liveFamilies.contains($0.key) }
        }
        return written
    }

    /// The family a metric's series belong to: the metric itself, or the
    /// described histogram or summary it is a `_bucket`, `_sum` or `_count` of.
    static func family(of metric: String, described: [String: MetricMetadata]) -> String {
        guard described[metric] == nil else { return metric }
        for suffix in ["_bucket", "_sum", "_count"] where metric.hasSuffix(suffix) {
            let base = String(metric.dropLast(suffix.count))
            if let type = described[base]?.type, type.seriesSuffixes.contains(suffix) { return base }
        }
        return metric
    }

    private static func appendHeader(family: String, _ metadata: MetricMetadata?, to buffer: inout [UInt8]) {
        let help = metadata.map(\.help).flatMap { $0.isEmpty ? nil : $0 } ?? "Latest value received by Pulsegate (collector or push)."
        buffer.append(contentsOf: "# HELP \(family) \(escapedHelp(help))\n# TYPE \(family) \(metadata?.type.textFormatName ?? "untyped")\n".utf8)
    }

    /// Help text as the text format writes it: backslashes and line feeds escaped.
    static func escapedHelp(_ help: String) -> String {
        var escaped = String.UnicodeScalarView()
        for scalar in help.unicodeScalars {  // by scalar: "\r\n" is one Character
            switch scalar {
            case "\\": escaped.append(contentsOf: "\\\\".unicodeScalars)
            case "\n": escaped.append(contentsOf: "\\n".unicodeScalars)
            default: escaped.append(scalar)
            }
        }
        return String(escaped)
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
